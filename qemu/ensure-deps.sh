#!/usr/bin/env bash
# qemu/ensure-deps.sh: make sure the boot and emulation tools are installed.
#
# Installs the missing Debian packages through apt-get when run as root;
# otherwise prints the exact command to run and fails.
set -euo pipefail

# package:command-or-file that proves it is installed
checks=(
    "nasm:nasm"
    "grub-common:grub-mkrescue"
    "grub-pc-bin:/usr/lib/grub/i386-pc/multiboot2.mod"
    "xorriso:xorriso"
    "mtools:mformat"
    "qemu-system-x86:qemu-system-x86_64"
    "gdb:gdb"
)
missing=()
for check in "${checks[@]}"; do
    package=${check%%:*}
    probe=${check#*:}
    if [[ $probe == /* ]]; then
        [ -e "$probe" ] || missing+=("$package")
    else
        command -v "$probe" >/dev/null 2>&1 || missing+=("$package")
    fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

command=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -eq 0 ]; then
    echo "ensure-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    "${command[@]}" >&2
else
    echo "ensure-deps: missing packages: ${missing[*]}" >&2
    echo "Run:  sudo apt-get update && sudo ${command[*]}" >&2
    exit 1
fi
