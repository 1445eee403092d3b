#!/usr/bin/env bash
# qemu/make-iso.sh OUT.iso KERNEL.elf "COMMAND LINE" [MODULE:NAME ...]
#
# Builds a bootable GRUB (BIOS) ISO that boots KERNEL.elf through multiboot2
# with the given kernel command line, loading each MODULE file as a
# multiboot2 module whose command line is NAME.
#
# The command line uses the kernel's (Linux's) syntax: words separated by
# spaces, double quotes group spaces into a word (init="/bin/prog a b").
# GRUB does not pass grub.cfg text through verbatim: it lexes the line like
# a shell (quotes removed, $var expanded), then rebuilds the command line
# from the resulting words, wrapping every word that contains a space in
# double quotes and putting a backslash before every ", ' and \ inside a
# word (grub_create_loader_cmdline). No grub.cfg text can make the kernel
# receive init="/bin/prog a b" literally. So this script splits the command
# line into words itself, hands each word to GRUB single-quoted (nothing is
# expanded), and the kernel receives what GRUB gives Linux:
#     CMDLINE                       kernel receives
#     test=all                      test=all
#     init="/bin/hello"             init=/bin/hello
#     init="/bin/prog a b" quiet    "init=/bin/prog a b" quiet
# The kernel's parser must therefore accept a double quote anywhere in a
# word (Linux does) and a backslash before ", ' and \.
set -euo pipefail
out=$1; kernel=$2; cmdline=$3; shift 3

# Split $cmdline into words: spaces/tabs separate, "..." groups, quotes dropped.
words=(); word=""; in_word=0; quoted=0
for ((i = 0; i < ${#cmdline}; i++)); do
    c=${cmdline:i:1}
    if [[ $c == '"' ]]; then
        quoted=$((1 - quoted)); in_word=1
    elif [[ ($c == ' ' || $c == $'\t' || $c == $'\n') && $quoted -eq 0 ]]; then
        [ $in_word -eq 1 ] && words+=("$word")
        word=""; in_word=0
    else
        word+=$c; in_word=1
    fi
done
[ $in_word -eq 1 ] && words+=("$word")
if [ $quoted -eq 1 ]; then
    echo "make-iso: unbalanced double quote in the kernel command line: $cmdline" >&2
    exit 1
fi

# grub_quote WORD: WORD as one GRUB word, taken literally ('...', ' as '\'').
grub_quote() { local q="'\\''"; printf "'%s'" "${1//\'/$q}"; }

grub_args=""
for word in ${words[@]+"${words[@]}"}; do grub_args+=" $(grub_quote "$word")"; done

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/boot/grub"
cp "$kernel" "$root/boot/kernel.elf"
{
    echo "set timeout=0"
    echo "set default=0"
    echo "serial --unit=0 --speed=115200"
    # Output only: GRUB never reads the serial port, so input typed (or
    # piped) before the kernel runs is left for the kernel.
    echo "terminal_output serial"
    echo "menuentry \"SwiftKernel\" {"
    echo "    multiboot2 /boot/kernel.elf$grub_args"
    for module in "$@"; do
        file=${module%%:*}; name=${module#*:}
        cp "$file" "$root/boot/$(basename "$file")"
        echo "    module2 /boot/$(basename "$file") $(grub_quote "$name")"
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
