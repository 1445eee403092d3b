#!/usr/bin/python3
"""bench/report.py: the `make bench` table, from the serial logs of the
benchmark runs (qemu/bench.sh calls it).

  report.py --out DIR --tsc-hz HZ \
      --linux LOG [LOG...] --ours LOG [LOG...] \
      [--linux-wall LOG] [--ours-wall LOG] [--title TEXT]

--linux/--ours: icount runs (one rdtsc tick = one guest instruction); the
first is the figure, every further one is a repeat whose largest relative
difference from the first is the spread. --*-wall: plain-TCG runs, whose
ticks are host TSC ticks, turned into ns with --tsc-hz.

Prints the table; writes DIR/results.md (the table and notes) and
DIR/ratios.png (a bar chart of ours/Linux, log scale, with matplotlib).
"""
import argparse
import math
import os
import re
import sys

BENCH_LINE = re.compile(r"^BENCH (\S+) (-?\d+|skipped|failed) ?(.*)$")

# name -> what it measures (the order is the table's).
DESCRIPTIONS = {
    "anon_fault": "first write, fresh anonymous page",
    "read_fault": "first read, fresh anonymous page",
    "anon_map_write_unmap": "mmap + write + munmap, per page",
    "cow_fault": "child writes a page shared by fork",
    "cow_reuse": "parent writes after the child exited",
    "fork_exit_wait_0m": "fork+exit+wait, nothing populated",
    "fork_exit_wait_1m": "fork+exit+wait, 1 MiB populated",
    "fork_exit_wait_16m": "fork+exit+wait, 16 MiB populated",
    "fork_exit_wait_64m": "fork+exit+wait, 64 MiB populated",
    "exec": "fork+execve+exit+wait (lat_proc exec)",
    "mmap_munmap_4m": "mmap+munmap 4 MiB untouched",
    "mmap_touch64_munmap": "mmap, write 64 pages, munmap",
    "mprotect_split": "mprotect splitting/merging, per call",
    "mremap_64m": "move a populated 64 MiB mapping",
    "regions_10": "mmap+munmap 1 page, 10 regions",
    "regions_1000": "mmap+munmap 1 page, 1,000 regions",
    "regions_10000": "mmap+munmap 1 page, 10,000 regions",
    "regions_60000": "mmap+munmap 1 page, 60,000 regions",
    "getpid": "null syscall",
    "sched_yield": "yield, nothing else runnable",
}
# A fault figure of 0 on our side: the work is done elsewhere, not avoided.
EAGER_NOTE = ("0: no fault is taken at that point. This kernel populates every page at mmap "
              "and copies every page at fork; the cost is in anon_map_write_unmap, "
              "mmap_munmap_4m and fork_exit_wait.")


def parse(path):
    """{name: (value or None, unit or reason)} from one serial log."""
    results = {}
    with open(path, errors="replace") as log:
        for line in log:
            match = BENCH_LINE.match(line.strip())
            if not match:
                continue
            name, value, rest = match.groups()
            if value in ("skipped", "failed"):
                results[name] = (None, f"{value} {rest}".strip())
            else:
                results[name] = (int(value), rest)
    return results


def grouped(number):
    return f"{number:,}"


def ratio_text(ours, linux):
    if ours is None or linux is None or linux <= 0:
        return "–"
    return f"{ours / linux:.2f}"


def spread(runs, name):
    """The largest |repeat - first| / first over the repeats, as text."""
    values = [run.get(name, (None, ""))[0] for run in runs]
    if len(values) < 2 or values[0] is None:
        return "–"
    if any(value is None for value in values[1:]):
        return "missing"
    first = values[0]
    worst = max(abs(value - first) for value in values[1:])
    return "0" if worst == 0 else f"{100.0 * worst / max(first, 1):.2f}%"


README_BEGIN = "<!-- bench results: begin (written by make bench) -->"
README_END = "<!-- bench results: end -->"


def update_readme(readme, results_md):
    """Puts results.md between the README's markers (left alone without them)."""
    with open(readme) as file:
        text = file.read()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        print(f"report: no bench markers in {readme}; not updated", file=sys.stderr)
        return
    with open(results_md) as file:
        table = file.read()
    text = text[:begin + len(README_BEGIN)] + "\n" + table + text[end:]
    with open(readme, "w") as file:
        file.write(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--tsc-hz", type=float, required=True)
    parser.add_argument("--linux", nargs="+", required=True)
    parser.add_argument("--ours", nargs="+", required=True)
    parser.add_argument("--linux-wall")
    parser.add_argument("--ours-wall")
    parser.add_argument("--title", default="")
    parser.add_argument("--readme", help="replace the text between the bench markers in this file with the table")
    options = parser.parse_args()

    linux_runs = [parse(path) for path in options.linux]
    ours_runs = [parse(path) for path in options.ours]
    linux_wall = parse(options.linux_wall) if options.linux_wall else {}
    ours_wall = parse(options.ours_wall) if options.ours_wall else {}
    linux, ours = linux_runs[0], ours_runs[0]
    names = [name for name in DESCRIPTIONS if name in linux or name in ours]
    names += sorted((set(linux) | set(ours)) - set(names))

    def wall_ns(results, name):
        value = results.get(name, (None, ""))[0]
        return None if value is None else value * 1e9 / options.tsc_hz

    header = ["benchmark", "unit", "Linux", "ours", "ours/Linux",
              "Linux wall ns", "ours wall ns", "wall ours/Linux", "spread Linux", "spread ours"]
    rows, chart, eager, problems = [], [], False, []
    for name in names:
        linux_value, linux_unit = linux.get(name, (None, "missing"))
        ours_value, ours_unit = ours.get(name, (None, "missing"))
        unit = linux_unit if linux_value is not None else ours_unit if ours_value is not None else ""
        if linux_value is None:
            problems.append(f"{name}: Linux {linux_unit}")
        if ours_value is None and not ours_unit.startswith("skipped"):
            problems.append(f"{name}: ours {ours_unit}")
        ours_text = ours_unit if ours_value is None else grouped(ours_value)
        linux_ns, ours_ns = wall_ns(linux_wall, name), wall_ns(ours_wall, name)
        if ours_value == 0 and name in ("anon_fault", "read_fault", "cow_fault", "cow_reuse"):
            # No ratio: the work was done elsewhere (EAGER_NOTE).
            ours_text += " (eager)"
            eager = True
            ours_value = ours_ns = None
        rows.append([
            name, unit.replace("ticks", "instr"),
            linux_unit if linux_value is None else grouped(linux_value), ours_text,
            ratio_text(ours_value, linux_value),
            "–" if linux_ns is None else grouped(round(linux_ns)),
            "–" if ours_ns is None else grouped(round(ours_ns)),
            ratio_text(ours_ns, linux_ns),
            spread(linux_runs, name), spread(ours_runs, name),
        ])
        if ours_value and linux_value:
            chart.append((name, ours_value / linux_value))

    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(c).rjust(w) if i >= 2 else str(c).ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))

    os.makedirs(options.out, exist_ok=True)
    with open(os.path.join(options.out, "results.md"), "w") as markdown:
        if options.title:
            markdown.write(f"{options.title}\n\n")
        markdown.write("| " + " | ".join(header) + " |\n")
        markdown.write("|" + "|".join(["---", "---"] + ["--:"] * (len(header) - 2)) + "|\n")
        for row in rows:
            markdown.write("| " + " | ".join(str(c) for c in row) + " |\n")
        markdown.write("\nFigures: median over repetitions of rdtsc ticks per operation, loop overhead "
                       "subtracted. Under `-icount shift=0` one tick is one guest instruction (user, "
                       "kernel and interrupts). Wall columns: plain TCG, host TSC ticks in ns (noisier). "
                       "Spread: largest difference between repeated icount runs. Lower ratio is better.\n")
        if eager:
            markdown.write(f"\n{EAGER_NOTE}\n")
        markdown.write("\n| benchmark | measures |\n|---|---|\n")
        for name in names:
            markdown.write(f"| {name} | {DESCRIPTIONS.get(name, '')} |\n")

    if options.readme:
        update_readme(options.readme, os.path.join(options.out, "results.md"))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(8, 0.35 * len(chart) + 1.5))
    labels = [name for name, _ in chart][::-1]
    values = [value for _, value in chart][::-1]
    colours = ["tab:green" if value <= 1.0 else "tab:red" for value in values]
    positions = list(range(len(values)))
    axes.barh(positions, values, color=colours)
    axes.set_yticks(positions, labels)
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_xlabel("guest instructions, ours / Linux (log scale; < 1 is better)")
    axes.set_title("SwiftKernel vs Linux, same binaries, QEMU TCG -icount")
    for y, value in enumerate(values):
        axes.text(value, y, f" {value:.2f}", va="center", fontsize=8)
    low = min(values + [1.0]) / 2
    high = max(values + [1.0]) * 3
    axes.set_xlim(low, high)
    figure.tight_layout()
    figure.savefig(os.path.join(options.out, "ratios.png"), dpi=110)

    if problems:
        print("report: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
