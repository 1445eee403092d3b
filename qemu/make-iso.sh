#!/usr/bin/env bash
# qemu/make-iso.sh OUT.iso KERNEL.elf "COMMAND LINE" [MODULE:NAME ...]
#
# Builds a bootable GRUB (BIOS) ISO that boots KERNEL.elf through multiboot2
# with the given kernel command line, loading each MODULE file as a
# multiboot2 module whose command line is NAME.
set -euo pipefail
out=$1; kernel=$2; cmdline=$3; shift 3

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/boot/grub"
cp "$kernel" "$root/boot/kernel.elf"
{
    echo "set timeout=0"
    echo "set default=0"
    echo "serial --unit=0 --speed=115200"
    echo "terminal_output serial"
    echo "menuentry \"SwiftKernel\" {"
    echo "    multiboot2 /boot/kernel.elf $cmdline"
    for module in "$@"; do
        file=${module%%:*}; name=${module#*:}
        cp "$file" "$root/boot/$(basename "$file")"
        echo "    module2 /boot/$(basename "$file") $name"
    done
    echo "    boot"
    echo "}"
} > "$root/boot/grub/grub.cfg"

# Only the modules the config needs: a small ISO that builds in about a second.
grub-mkrescue -o "$out" "$root" \
    --install-modules="multiboot2 normal serial terminal" \
    --modules="multiboot2 normal serial terminal" \
    --locales= --fonts= --themes= >/dev/null 2>&1 || {
    echo "make-iso: grub-mkrescue failed; rerun: grub-mkrescue -o $out $root" >&2
    exit 1
}
