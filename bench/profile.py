#!/usr/bin/python3
"""bench/profile.py: guest instructions per kernel function from a QEMU
`-d in_asm,exec,nochain` log (qemu/bench-profile.sh runs it).

in_asm gives each translation block's instructions at its first address;
exec (with nochain, so that every block execution is logged) gives each
execution. A block's instructions times its executions, summed by the
kernel symbol that contains its start, is where the instructions went.
Under -icount each iteration of a rep-prefixed instruction is one block
execution of one instruction, as icount counts it.

  profile.py --kernel ELF [--baseline LOG] [--top N] LOG
"""
import argparse
import bisect
import collections
import re
import subprocess
import sys

IN_LINE = re.compile(r"^IN:")
INSN_LINE = re.compile(r"^0x([0-9a-f]+):")
TRACE_LINE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def symbols(elf):
    """Sorted (address, demangled name) of the ELF's function symbols."""
    listing = subprocess.run(["nm", "--defined-only", elf], capture_output=True, text=True, check=True).stdout
    entries = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            entries.append((int(parts[0], 16), parts[2]))
    entries.sort()
    names = [name for _, name in entries]
    try:
        demangled = subprocess.run(["swift-demangle", "--simplified"], input="\n".join(names),
                                   capture_output=True, text=True, check=True).stdout.splitlines()
        if len(demangled) == len(names):
            names = demangled
    except (OSError, subprocess.CalledProcessError):
        pass
    return [address for address, _ in entries], names


def instructions_by_block(log):
    """{block start: instructions} and [block start per execution] counts."""
    sizes, executions = {}, collections.Counter()
    block_start, count = None, 0
    with open(log, errors="replace") as lines:
        for line in lines:
            trace = TRACE_LINE.match(line)
            if trace:
                executions[int(trace.group(1), 16)] += 1
                continue
            if IN_LINE.match(line):
                if block_start is not None:
                    sizes[block_start] = count
                block_start, count = None, 0
                continue
            insn = INSN_LINE.match(line)
            if insn:
                if block_start is None:
                    block_start = int(insn.group(1), 16)
                count += 1
    if block_start is not None:
        sizes[block_start] = count
    return sizes, executions


def by_function(log, addresses, names):
    sizes, executions = instructions_by_block(log)
    totals = collections.Counter()
    for start, times in executions.items():
        index = bisect.bisect_right(addresses, start) - 1
        name = names[index] if index >= 0 else hex(start)
        totals[name] += times * sizes.get(start, 1)
    return totals


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--baseline")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("log")
    options = parser.parse_args()
    addresses, names = symbols(options.kernel)
    totals = by_function(options.log, addresses, names)
    if options.baseline:
        totals.subtract(by_function(options.baseline, addresses, names))
    whole = sum(value for value in totals.values() if value > 0)
    print(f"kernel instructions (run minus baseline): {whole:,}")
    for name, value in totals.most_common(options.top):
        print(f"{value:>14,}  {100.0 * value / max(whole, 1):5.1f}%  {name[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
