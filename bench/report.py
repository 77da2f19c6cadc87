"""Compare saved benchmark runs: one row per case, one column group per run.

    python -m bench.report [PATH ...] [--baseline PATH|TORCH_VERSION] [--format FMT]
                           [--csv FILE] [--json FILE] [--markdown FILE] [--plot FILE.png]
                           [--fail-on-regression PCT] [--cuda-vs-cpu]

PATHs are saved runs or folders of them (default: results/). Cases are matched across runs by
model, phase, device, batch size and dtype (and memory format and compile mode; data-loading
cases by source and augmentation). For each run: its median samples/s (images/s for data
loading), the ratio to the baseline run's, and a verdict.

The verdict is IQR-based: a run is "slower" when the first quartile of its round times lies above
the third quartile of the baseline's (the interquartile ranges do not overlap), "faster" in the
mirror case, and "same" otherwise, so a difference is called only when it exceeds the measured
noise of both runs. ``--fail-on-regression PCT`` exits 1 and names each case whose slowdown beyond
noise, Q1(run) / Q3(baseline) - 1, exceeds PCT percent. ``--min-change PCT`` also requires the
median to move by more than PCT percent before a verdict is called (runs minutes apart on a shared
machine drift by about 10%, which neither run's IQR shows). A geometric mean of the ratios closes the
table. Bad input ends with one line naming the file or the problem, and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate, tabulate_formats

from bench.naming import MODEL_ORDER, PHASES
from bench.results_store import write_atomic
from bench.saved_runs import BadInput, CaseStats, Run, case_name, collect

PROG = "python -m bench.report"


@dataclass(frozen=True)
class Comparison:
    ratio: float  # run rate / baseline rate (> 1: faster)
    verdict: str  # faster, slower, same
    slowdown_beyond_noise: float  # Q1(run) / Q3(base) - 1; > 0 only when slower


def compare(base: CaseStats, other: CaseStats, min_change: float = 0.0) -> Comparison:
    """The verdict for ``other`` against ``base``; ``min_change`` (a fraction) is the smallest
    change of the median worth calling, for drift between runs that no single run's IQR shows."""
    ratio = other.rate / base.rate
    big_enough = abs(other.median_s / base.median_s - 1) > min_change
    if other.q1_s > base.q3_s and big_enough:
        verdict = "slower"
    elif other.q3_s < base.q1_s and big_enough:
        verdict = "faster"
    else:
        verdict = "same"
    return Comparison(ratio, verdict, max(0.0, other.q1_s / base.q3_s - 1))


def choose_baseline(runs: list[Run], spec: str | None) -> Run:
    """--baseline: a run's path, or a torch version (the oldest run of it); default the oldest run."""
    by_age = sorted(runs, key=lambda r: r.datetime)
    if spec is None:
        return by_age[0]
    for run in by_age:
        if Path(spec).resolve() == run.path.resolve():
            return run
    matching = [r for r in by_age if r.torch_version == spec or r.torch_version.split("+")[0] == spec]
    if matching:
        return matching[0]
    versions = sorted({r.torch_version for r in runs})
    raise BadInput(f"--baseline {spec!r} matches no run; give one of the runs' paths or torch versions: "
                   f"{', '.join(versions)}")


def _sort_key(key: tuple):
    if key[0] == "throughput":
        _, model, phase, device, bs, *rest = key
        return (0, MODEL_ORDER.index(model) if model in MODEL_ORDER else 99, model,
                PHASES.index(phase) if phase in PHASES else 99, bs, device, rest)
    return (1, key)


def build_rows(runs: list[Run], baseline: Run, min_change: float = 0.0) -> tuple[list[tuple], dict[tuple, dict[int, Comparison]]]:
    keys = sorted({k for r in runs for k in r.cases}, key=_sort_key)
    comparisons: dict[tuple, dict[int, Comparison]] = {}
    for key in keys:
        base = baseline.cases.get(key)
        comparisons[key] = {i: compare(base, r.cases[key], min_change) for i, r in enumerate(runs)
                            if base is not None and key in r.cases}
    return keys, comparisons


def geometric_mean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def render(runs: list[Run], baseline: Run, keys, comparisons, fmt: str) -> str:
    headers = ["case"]
    for run in runs:
        mark = " (baseline)" if run is baseline else ""
        headers += [f"{run.label}{mark}\nper s", "ratio", "verdict"]
    rows = []
    for key in keys:
        row = [case_name(key)]
        for i, run in enumerate(runs):
            stats = run.cases.get(key)
            if stats is None:
                row += ["missing", "", ""]
                continue
            c = comparisons[key].get(i)
            row.append(f"{stats.rate:,.0f}" if stats.rate >= 100 else f"{stats.rate:.3g}")
            if run is baseline:
                row += ["1.00", "baseline"]
            elif c is None:
                row += ["n/a", "no baseline"]
            else:
                row += [f"{c.ratio:.2f}", c.verdict]
        rows.append(row)
    summary = ["geometric mean of ratios"]
    for i, run in enumerate(runs):
        g = geometric_mean([comparisons[k][i].ratio for k in keys if i in comparisons[k]])
        counts = [comparisons[k][i].verdict for k in keys if i in comparisons[k]]
        summary += ["", "n/a" if g is None else f"{g:.3f}",
                    "baseline" if run is baseline else
                    f"{counts.count('faster')} faster, {counts.count('slower')} slower, {counts.count('same')} same"]
    rows.append(summary)
    if fmt in ("github", "pipe"):
        headers = [h.replace("\n", " ") for h in headers]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def _shown(path: Path) -> str:
    """A path as the reader can use it: relative to the current folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def header(runs: list[Run], baseline: Run, min_change: float = 0.0) -> str:
    lines = [f"{len(runs)} runs; baseline: {baseline.label} ({_shown(baseline.path)})",
             "verdict: IQR-based (slower / faster when the interquartile ranges of round times do not overlap"
             + (f" and the median moved by more than {min_change:.0%})" if min_change else ")")]
    machines = {run.machine for run in runs}
    if len(machines) > 1:
        lines.append("runs come from different machines: "
                     + "; ".join(f"{run.label}: {run.machine}" for run in runs))
    else:
        lines.append(f"machine: {machines.pop()}")
    return "\n".join(lines)


def records(runs, baseline, keys, comparisons) -> list[dict]:
    out = []
    for key in keys:
        for i, run in enumerate(runs):
            stats = run.cases.get(key)
            c = comparisons[key].get(i)
            out.append({"case": case_name(key), "run": run.label, "path": str(run.path),
                        "torch_version": run.torch_version, "baseline": run is baseline,
                        "rate": stats.rate if stats else None, "unit": stats.unit if stats else None,
                        "median_s": stats.median_s if stats else None,
                        "ratio": c.ratio if c else None,
                        "verdict": ("baseline" if run is baseline else c.verdict if c else
                                    "missing" if stats is None else "no baseline"),
                        "slowdown_beyond_noise": c.slowdown_beyond_noise if c else None})
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, buffer.getvalue())


def plot(path: Path, runs: list[Run], keys) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BadInput("--plot needs matplotlib (pip install matplotlib)") from None
    names = [case_name(k) for k in keys]
    fig, ax = plt.subplots(figsize=(9, max(3, 0.22 * len(keys) + 1.5)))
    for run, marker in zip(runs, "os^Dvx*+<>"):
        xs = [run.cases[k].rate if k in run.cases else float("nan") for k in keys]
        ax.plot(xs, range(len(keys)), marker, label=run.label, alpha=0.8)
    ax.set_yticks(range(len(keys)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("samples/s (images/s for data loading), log scale")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


class _OneLineParser(argparse.ArgumentParser):
    # reference_models.cli_args.OneLineParser's twin: importing reference_models imports torch,
    # and the report must run without it (tox's report environment).
    def error(self, message):
        self.exit(2, f"{PROG}: error: {message}\n")


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not accepted: a percentage, 0 or more, such as 10")
    return value


def _format(text: str) -> str:
    if text not in tabulate_formats:
        raise argparse.ArgumentTypeError(f"{text!r} is unknown; accepted: {', '.join(sorted(tabulate_formats))}")
    return text


def main(argv=None) -> int:
    p = _OneLineParser(prog=PROG, description="Compare saved benchmark runs (see the module docstring).")
    p.add_argument("paths", nargs="*", type=Path, default=[Path("results")], metavar="PATH",
                   help="saved runs or folders of them (default: results)")
    p.add_argument("--baseline", default=None, help="a run's path, or a torch version (default: the oldest run)")
    p.add_argument("--format", type=_format, default="simple", help="any tabulate format (default: simple; "
                   "github for pull requests)")
    p.add_argument("--csv", type=Path, help="also write one row per case and run to this CSV file")
    p.add_argument("--json", type=Path, help="also write the comparison to this JSON file")
    p.add_argument("--markdown", type=Path, help="also write the table, in github format, to this file")
    p.add_argument("--plot", type=Path, help="also plot samples/s per case across runs to this PNG file")
    p.add_argument("--fail-on-regression", type=_percent, default=None, metavar="PCT",
                   help="exit 1 naming each case slower than the baseline by more than PCT%% beyond noise")
    p.add_argument("--min-change", type=_percent, default=0.0, metavar="PCT",
                   help="call a difference only when the median also moved by more than PCT%% (default: 0); "
                        "for drift between runs, which no run's own IQR shows")
    p.add_argument("--cuda-vs-cpu", action="store_true", help="also print each run's CUDA ÷ CPU table")
    args = p.parse_args(argv)
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        p.error(f"--plot {str(args.plot)!r}: accepted: a file name ending in .png")
    try:
        runs, notes = collect(args.paths)
        baseline = choose_baseline(runs, args.baseline)
        min_change = args.min_change / 100
        keys, comparisons = build_rows(runs, baseline, min_change)
        others = [i for i, r in enumerate(runs) if r is not baseline]
        if others and not any(i in comparisons[k] for k in keys for i in others):
            raise BadInput("the runs have no case in common with the baseline "
                           f"({baseline.path}); nothing to compare")
        for note in notes:
            print(f"{PROG}: {note}", file=sys.stderr)
        table = render(runs, baseline, keys, comparisons, args.format)
        print(header(runs, baseline, min_change))
        print(table)
        if args.cuda_vs_cpu:
            from bench.summary_table import throughput_table
            for run in runs:
                print(f"\nCUDA ÷ CPU, {run.label}\n" + (throughput_table(run.benchmarks, ["cpu", "cuda"], args.format)
                                                      or "(no throughput cases)"))
        if args.markdown:
            md = render(runs, baseline, keys, comparisons, "github")
            write_atomic(args.markdown, f"# Comparison of saved runs\n\n{header(runs, baseline, min_change)}\n\n{md}\n".replace(
                "\nverdict:", "  \nverdict:").replace("\nmachine", "  \nmachine").replace("\nruns come", "  \nruns come"))
        out = records(runs, baseline, keys, comparisons)
        if args.csv:
            write_csv(args.csv, out)
        if args.json:
            write_atomic(args.json, json.dumps({"baseline": str(baseline.path), "records": out}, indent=2) + "\n")
        if args.plot:
            plot(args.plot, runs, keys)
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if args.fail_on_regression is not None:
        limit = args.fail_on_regression / 100
        regressed = [(case_name(k), runs[i].label, c.slowdown_beyond_noise)
                     for k in keys for i, c in comparisons[k].items()
                     if runs[i] is not baseline and c.verdict == "slower" and c.slowdown_beyond_noise > limit]
        if regressed:
            print(f"\nregressions beyond noise of more than {args.fail_on_regression:g}%:", file=sys.stderr)
            for name, label, amount in regressed:
                print(f"  {name} ({label}): {amount:.1%} slower beyond noise", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
