#!/usr/bin/env bash
# qemu/bench-deps.sh: what `make bench` needs beyond `make test`
# (qemu/ensure-deps.sh): the Linux peer kernel, cpio for its initramfs, and
# matplotlib for the chart. Debian packages only, installed with apt-get
# when missing (as root; otherwise prints the command and fails). Prints
# nothing when everything is there.
set -euo pipefail

# package:command-or-file that proves it is installed
checks=(
    "linux-image-amd64:/boot/vmlinuz-*"
    "cpio:cpio"
    "python3-matplotlib:/usr/lib/python3/dist-packages/matplotlib"
)
missing=()
for check in "${checks[@]}"; do
    package=${check%%:*}
    probe=${check#*:}
    if [[ $probe == /* ]]; then
        # A glob: present when at least one file matches.
        compgen -G "$probe" >/dev/null || missing+=("$package")
    else
        command -v "$probe" >/dev/null 2>&1 || missing+=("$package")
    fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

command=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -eq 0 ]; then
    echo "bench-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    "${command[@]}" >&2
else
    echo "bench-deps: missing packages: ${missing[*]}" >&2
    echo "Run:  sudo apt-get update && sudo ${command[*]}" >&2
    exit 1
fi
