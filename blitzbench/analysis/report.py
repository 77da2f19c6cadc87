"""Compare saved benchmark runs: one row per case, one column group per series of runs.

    blitzbench report [PATH ...] [--baseline SERIES|PATH|TORCH_VERSION] [--min-change PCT]
                           [--format FMT] [--csv FILE] [--json FILE] [--markdown FILE]
                           [--plot FILE.png] [--fail-on-regression PCT] [--cuda-vs-cpu]
                           [--min-change-instructions PCT]
    blitzbench report A B --explain CASE [--top N]

PATHs are saved runs or folders of them (default: results/). Runs are grouped into series
(blitzbench.analysis.saved_runs.group_series: one per tox environment's folder, or per torch version, devices
and machine in one flat folder; a file named on its own is a series of its own). Cases are
matched across series by their key (blitzbench.cases).

Runs made with ``--instructions`` also carry Callgrind counts; where both sides have them, the
count's ratio and verdict (blitzbench.analysis.instruction_compare: more / fewer beyond
``--min-change-instructions``, default 1%) are shown beside the time's. ``--explain CASE`` with two
PATHs lists the functions whose counts changed most in that case.

Between a series and the baseline series, per case, when both have 2 or more runs: the runs are
paired round by round (as blitzbench.matrix recorded the rounds, else by time order); the ratio is the
median over rounds of (rate in round i) / (baseline rate in round i), > 1 meaning faster, with the
distribution-free interval for that median from blitzbench.analysis.paired_stats (95% or more at 6 rounds and
up; fewer rounds cover less, and then no change is called). The verdict is "faster" or "slower"
only when the whole interval lies beyond ``--min-change`` (default 5%), "same" when it lies
within it, "unclear" otherwise. The geometric mean of a series closes the table, with its
interval from the per-round geometric means (paired the same way).

When either side has a single run, the IQR verdict of one pair is used instead, labelled "single
run: drift not measured": "slower" when the first quartile of the run's round times lies above
the third quartile of the baseline's and the median moved by more than --min-change, "faster" in
the mirror case, "same" otherwise.

``--fail-on-regression PCT`` exits 1 and names each case called slower whose slowdown is more than
PCT percent even at the interval's favourable end (1 / ci_high - 1; for single runs, beyond both
runs' noise: Q1(run) / Q3(baseline) - 1). Bad input ends with one line naming the file or the
problem, and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import geometric_mean

from tabulate import tabulate, tabulate_formats

from blitzbench.analysis import instruction_compare, paired_stats
from blitzbench.cases import DEVICES, sort_key
from blitzbench.kinds import CaseStats, case_mode, case_name
from blitzbench.cli.args import OneLineParser, shown
from blitzbench.analysis.results_store import write_atomic
from blitzbench.analysis.saved_runs import BadInput, Run, Series, collect, group_series, pair_runs

PROG = "blitzbench report"
SINGLE_RUN = "single run: drift not measured"
PAIRED = "paired rounds"
DEFAULT_MIN_CHANGE_PCT = 5.0


@dataclass(frozen=True)
class Comparison:
    ratio: float  # other rate / baseline rate (> 1: faster)
    verdict: str  # faster, slower, same, unclear
    rounds: int  # paired rounds behind it (1: a single run)
    method: str = SINGLE_RUN  # SINGLE_RUN or PAIRED
    ci_low: float | None = None
    ci_high: float | None = None
    coverage: float | None = None  # the interval's exact coverage
    ratios: tuple[float, ...] = ()  # per round
    slowdown_bound: float = 0.0  # the least slowdown the data supports; > 0 only when slower

    @property
    def interval_text(self) -> str:
        if self.ci_low is None:
            return f"{self.ratio:.2f}"
        return f"{self.ratio:.2f} [{self.ci_low:.2f}, {self.ci_high:.2f}]"


def compare(base: CaseStats, other: CaseStats, min_change: float = 0.0) -> Comparison:
    """The IQR verdict of one run against one baseline run (no drift between runs measured);
    ``min_change`` (a fraction) is the smallest change of the median worth calling."""
    ratio = other.rate / base.rate
    big_enough = abs(other.median_s / base.median_s - 1) > min_change
    if other.q1_s > base.q3_s and big_enough:
        verdict = "slower"
    elif other.q3_s < base.q1_s and big_enough:
        verdict = "faster"
    else:
        verdict = "same"
    return Comparison(ratio, verdict, 1, SINGLE_RUN, slowdown_bound=max(0.0, other.q1_s / base.q3_s - 1))


def compare_paired(pairs: list[tuple[CaseStats, CaseStats]], min_change: float) -> Comparison:
    """The paired verdict over rounds: (baseline, other) stats per round, two rounds or more."""
    estimate = paired_stats.paired_estimate(other.rate / base.rate for base, other in pairs)
    verdict = paired_stats.verdict(estimate, min_change)
    bound = 1 / estimate.ci_high - 1 if verdict == "slower" else 0.0
    return Comparison(estimate.ratio, verdict, estimate.rounds, PAIRED, estimate.ci_low, estimate.ci_high,
                      estimate.coverage, estimate.ratios, max(0.0, bound))


def compare_case(pairs: list[tuple[Run, Run]], key: tuple, min_change: float) -> Comparison | None:
    """``key`` in a series against the baseline series, over the rounds where both ran it."""
    usable = [(base.cases[key], other.cases[key]) for base, other in pairs if key in base.cases and key in other.cases]
    if not usable:
        return None
    if len(usable) == 1:
        return compare(*usable[0], min_change)
    return compare_paired(usable, min_change)


@dataclass
class SeriesSummary:
    """A series' geometric mean of ratios over the cases it shares with the baseline."""

    ratio: float | None
    verdict: str
    rounds: int
    cases: int
    ci_low: float | None = None
    ci_high: float | None = None
    coverage: float | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def interval_text(self) -> str:
        if self.ratio is None:
            return "n/a"
        if self.ci_low is None:
            return f"{self.ratio:.3f}"
        return f"{self.ratio:.3f} [{self.ci_low:.3f}, {self.ci_high:.3f}]"


def summarize(pairs: list[tuple[Run, Run]], comparisons: dict[tuple, Comparison], min_change: float) -> SeriesSummary:
    """Paired (2 rounds or more): per round, the geometric mean over the cases every round of both
    series ran, then the median of those and its interval. Otherwise the plain geometric mean."""
    counts = {v: sum(c.verdict == v for c in comparisons.values()) for v in ("faster", "slower", "same", "unclear")}
    if len(pairs) >= 2:
        common = [k for k in comparisons if all(k in b.cases and k in o.cases for b, o in pairs)]
        if common:
            per_round = [geometric_mean(o.cases[k].rate / b.cases[k].rate for k in common) for b, o in pairs]
            estimate = paired_stats.paired_estimate(per_round)
            return SeriesSummary(estimate.ratio, paired_stats.verdict(estimate, min_change), estimate.rounds,
                                 len(common), estimate.ci_low, estimate.ci_high, estimate.coverage, counts)
    ratios = [c.ratio for c in comparisons.values()]
    # A single pair: no drift measured. Several pairs but no case in every one of them: no paired
    # geometric mean exists, and the plain one is not called either way.
    verdict = SINGLE_RUN if len(pairs) < 2 else "unclear"
    return SeriesSummary(geometric_mean(ratios) if ratios else None, verdict, min(len(pairs), 1),
                         len(ratios), counts=counts)


@dataclass
class Report:
    series: list[Series]
    baseline: Series
    keys: list[tuple]
    min_change: float
    comparisons: dict[int, dict[tuple, Comparison]]  # series index -> case key -> comparison
    summaries: dict[int, SeriesSummary]
    paired_rounds: dict[int, int]
    min_change_instructions: float = instruction_compare.DEFAULT_MIN_CHANGE_PCT / 100
    counts: dict[int, dict] = field(default_factory=dict)  # series index -> key -> CountComparison
    count_summaries: dict[int, instruction_compare.CountSummary] = field(default_factory=dict)

    @property
    def counted(self) -> bool:
        """Whether any run of any series carries instruction counts."""
        return any(r.instructions for s in self.series for r in s.runs)

    def others(self):
        return [(i, s) for i, s in enumerate(self.series) if s is not self.baseline]


def build_report(series: list[Series], baseline: Series, min_change: float,
                 min_change_instructions: float = instruction_compare.DEFAULT_MIN_CHANGE_PCT / 100) -> Report:
    keys = sorted({k for s in series for r in s.runs for k in r.cases}, key=sort_key)
    comparisons, summaries, rounds, counts, count_summaries = {}, {}, {}, {}, {}
    for i, s in enumerate(series):
        if s is baseline:
            continue
        pairs = pair_runs(baseline, s)
        rounds[i] = len(pairs)
        found = {k: compare_case(pairs, k, min_change) for k in keys}
        comparisons[i] = {k: c for k, c in found.items() if c is not None}
        summaries[i] = summarize(pairs, comparisons[i], min_change)
        counts[i] = instruction_compare.compare_counts(baseline, s, keys, min_change_instructions)
        count_summaries[i] = instruction_compare.summarize_counts(counts[i], min_change_instructions)
    return Report(series, baseline, keys, min_change, comparisons, summaries, rounds, min_change_instructions,
                  counts, count_summaries)


def choose_baseline(series: list[Series], spec: str | None) -> Series:
    """--baseline: a series' name (a tox env), a run's path or a series' folder, or a torch version
    (the first series of it); default the series whose first run is oldest."""
    if spec is None:
        return series[0]
    for s in series:
        if spec in (s.name, s.label):
            return s
    path = Path(spec)
    if path.exists():
        for s in series:
            if path.resolve() == s.folder.resolve() or any(path.resolve() == r.path.resolve() for r in s.runs):
                return s
    for s in series:
        if spec in (s.torch_version, s.torch_version.split("+")[0]):
            return s
    raise BadInput(f"--baseline {spec!r} matches no run or series; give a series' name ({', '.join(s.name for s in series)}), "
                   f"a run's path or a torch version ({', '.join(sorted({s.torch_version for s in series}))})")


def _rate(stats: CaseStats) -> str:
    return f"{stats.rate:,.0f}" if stats.rate >= 100 else f"{stats.rate:.3g}"


def series_rate(series: Series, key: tuple) -> CaseStats | None:
    """The series' run whose rate is the median over its runs (the lower middle one for an even count)."""
    stats = sorted((r.cases[key] for r in series.runs if key in r.cases), key=lambda c: c.rate)
    return stats[(len(stats) - 1) // 2] if stats else None


def render(report: Report, fmt: str) -> str:
    headers = ["case", "mode"]
    for i, s in enumerate(report.series):
        note = (" (baseline)" if s is report.baseline
                else f" ({SINGLE_RUN})" if report.paired_rounds[i] < 2 else f" ({report.paired_rounds[i]} rounds)")
        headers += [f"{s.label}{note}\nper s", "ratio [interval]", "verdict"]
        if report.counted:
            headers += ["instructions\nper call"] + ([] if s is report.baseline else ["instr.\nratio", "instr.\nverdict"])
    rows = []
    for key in report.keys:
        row = [case_name(key), case_mode(key) or "-"]
        for i, s in enumerate(report.series):
            stats = series_rate(s, key)
            if stats is None:
                row += ["missing", "", ""]
            else:
                row.append(_rate(stats))
                if s is report.baseline:
                    row += ["1.00", "baseline"]
                elif key not in report.comparisons[i]:
                    row += ["n/a", "no baseline"]
                else:
                    c = report.comparisons[i][key]
                    row += [c.interval_text, c.verdict]
            if report.counted:
                row += _count_cells(report, i, s, key)
        rows.append(row)
    geo, counts = ["geometric mean of ratios", ""], ["verdicts", ""]
    for i, s in enumerate(report.series):
        if s is report.baseline:
            geo += ["", "1.000", "baseline"] + (["baseline"] if report.counted else [])
            counts += ["", "", ""] + ([""] if report.counted else [])
            continue
        summary = report.summaries[i]
        geo += [f"{summary.cases} cases", summary.interval_text,
                summary.verdict if summary.verdict != SINGLE_RUN else "single run"]
        counts += ["", "", ", ".join(f"{n} {v}" for v, n in summary.counts.items() if n)]
        if report.counted:
            cs = report.count_summaries[i]
            geo += [f"{cs.cases} cases", "n/a" if cs.ratio is None else f"{cs.ratio:.3f}", cs.verdict]
            counts += ["", "", ", ".join(f"{n} {v}" for v, n in cs.counts.items() if n)]
    rows += [geo, counts]
    if fmt in ("github", "pipe"):
        headers = [h.replace("\n", " ") for h in headers]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def _count_cells(report: Report, i: int, s: Series, key: tuple) -> list[str]:
    """instructions per call (with the spread across runs where there are several), and against
    the baseline its ratio and verdict."""
    if key[0] != "throughput":  # only throughput cases are counted
        return ["-"] if s is report.baseline else ["-", "", ""]
    own = instruction_compare.series_count(s, key)
    cell = "not counted" if own is None else f"{own.per_call:,.0f}" + (
        f" (±{own.spread_across_runs / 2:.2%}, {own.runs} runs)" if own.spread_across_runs is not None else "")
    if s is report.baseline:
        return [cell]
    c = report.counts.get(i, {}).get(key)
    if c is None:
        return [cell, "n/a", "" if own is None else "no baseline count"]
    return [cell, f"{c.ratio:.4f}", c.verdict]


def header(report: Report) -> str:
    m = report.min_change
    base = report.baseline
    lines = [f"{len(report.series)} series; baseline: {base.label} ({shown(base.folder)}, {len(base.runs)} runs)"]
    for i, s in report.others():
        n = report.paired_rounds[i]
        if n >= 2:
            coverage = paired_stats.coverage(n)
            lines.append(f"{s.label}: {len(s.runs)} runs, {n} paired rounds, interval coverage {coverage:.1%}"
                         + ("" if coverage >= paired_stats.CONFIDENCE else
                            f" (under {paired_stats.CONFIDENCE:.0%}: no change is called)"))
        else:
            lines.append(f"{s.label}: {len(s.runs)} runs; {SINGLE_RUN}")
    lines += [
        "ratio: rate / baseline rate (> 1: faster), the median over paired rounds (round i / round i of the baseline); "
        f"interval: distribution-free {paired_stats.CONFIDENCE:.0%} interval for that median (order statistics; "
        f"{paired_stats.MIN_ROUNDS} rounds or more)",
        f"verdict: faster / slower when the whole interval lies beyond ±{m:.0%}, same when it lies within ±{m:.0%}, "
        "unclear otherwise; single runs: the IQR verdict (slower / faster when the interquartile ranges of round "
        f"times do not overlap and the median moved by more than {m:.0%})",
    ]
    if report.counted:
        mi = report.min_change_instructions
        lines.append(
            "instructions: Callgrind's count per call (median of its repeats; one thread, under valgrind, which hides "
            f"AVX-512); instr. ratio: series / baseline; more / fewer beyond ±{mi:.1%}, same within. A count does not "
            "drift between runs as time does, so one run per series decides; it is not time (cache misses, SIMD "
            "width, memory bandwidth and system calls do not show), so both verdicts are shown")
    machines = {s.machine for s in report.series}
    if len(machines) > 1:
        lines.append("series come from different machines: " + "; ".join(f"{s.label}: {s.machine}" for s in report.series))
    else:
        lines.append(f"machine: {machines.pop()}")
    return "\n".join(lines)


def records(report: Report) -> list[dict]:
    out = []
    for key in report.keys:
        for i, s in enumerate(report.series):
            stats = series_rate(s, key)
            c = report.comparisons.get(i, {}).get(key)
            is_base = s is report.baseline
            out.append({
                "case": case_name(key), "mode": case_mode(key), "series": s.name, "label": s.label, "torch_version": s.torch_version,
                "baseline": is_base, "runs": len(s.runs), "rate": stats.rate if stats else None,
                "unit": stats.unit if stats else None, "median_s": stats.median_s if stats else None,
                "rounds": c.rounds if c else None, "ratio": 1.0 if is_base and stats else c.ratio if c else None,
                "ci_low": c.ci_low if c else None, "ci_high": c.ci_high if c else None,
                "coverage": c.coverage if c else None,
                "verdict": ("baseline" if is_base else c.verdict if c else "missing" if stats is None else "no baseline"),
                "method": c.method if c else None, "ratios": list(c.ratios) if c else [],
                "slowdown_bound": c.slowdown_bound if c else None, **_count_record(report, i, s, key)})
    return out


def _count_record(report: Report, i: int, s: Series, key: tuple) -> dict:
    own = instruction_compare.series_count(s, key)
    c = report.counts.get(i, {}).get(key)
    return {"instructions_per_call": own.per_call if own else None,
            "instructions_runs": own.runs if own else 0,
            "instructions_spread_across_runs": own.spread_across_runs if own else None,
            "instructions_ratio": 1.0 if s is report.baseline and own else c.ratio if c else None,
            "instructions_verdict": ("baseline" if s is report.baseline and own else c.verdict if c
                                     else "not counted" if own is None else "no baseline count")}


def series_records(report: Report) -> list[dict]:
    out = []
    for i, s in enumerate(report.series):
        summary = report.summaries.get(i)
        out.append({
            "series": s.name, "label": s.label, "torch_version": s.torch_version, "devices": list(s.devices),
            "baseline": s is report.baseline, "runs": [str(r.path) for r in s.runs],
            "rounds": summary.rounds if summary else len(s.runs),
            "ratio": 1.0 if summary is None else summary.ratio,
            "ci_low": summary.ci_low if summary else None, "ci_high": summary.ci_high if summary else None,
            "coverage": summary.coverage if summary else None,
            "verdict": "baseline" if summary is None else summary.verdict,
            "cases_in_geometric_mean": summary.cases if summary else None,
            "verdict_counts": summary.counts if summary else None,
            **_count_series_record(report, i, s)})
    return out


def _count_series_record(report: Report, i: int, s: Series) -> dict:
    if s is report.baseline:
        return {"instructions_ratio": 1.0 if report.counted else None,
                "instructions_verdict": "baseline" if report.counted else "not counted"}
    cs = report.count_summaries.get(i)
    return {"instructions_ratio": cs.ratio if cs else None,
            "instructions_verdict": cs.verdict if cs else "not counted",
            "instructions_cases_in_geometric_mean": cs.cases if cs else 0,
            "instructions_verdict_counts": cs.counts if cs else None}


def write_csv(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({**row, "ratios": ";".join(f"{r:.6g}" for r in row["ratios"])} for row in rows)
    write_atomic(path, buffer.getvalue())


def plot(path: Path, report: Report) -> None:
    """Each case's ratio to the baseline with its interval, one marker per series; a line at 1.0
    and a band at ±min-change; the legend above the axes, clear of the data."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BadInput("--plot needs matplotlib (pip install matplotlib)") from None
    others = report.others()
    keys = [k for k in report.keys if any(k in report.comparisons[i] for i, _ in others)]
    fig, ax = plt.subplots(figsize=(9, max(3.5, 0.24 * len(keys) + 2)))
    m = report.min_change
    ax.axvspan(1 - m, 1 + m, color="0.9", zorder=0, label=f"±{m:.0%} (--min-change)")
    ax.axvline(1.0, color="0.4", linewidth=1, zorder=1)
    offsets = [(j - (len(others) - 1) / 2) * 0.6 / max(len(others), 1) for j in range(len(others))]
    for (i, s), marker, offset in zip(others, "os^Dvx*P<>", offsets):
        ys, xs, lows, highs = [], [], [], []
        for row, key in enumerate(keys):
            c = report.comparisons[i].get(key)
            if c is None:
                continue
            ys.append(row + offset)
            xs.append(c.ratio)
            lows.append(c.ratio - (c.ci_low if c.ci_low is not None else c.ratio))
            highs.append((c.ci_high if c.ci_high is not None else c.ratio) - c.ratio)
        n = report.paired_rounds[i]
        name = s.label + (f" ({SINGLE_RUN})" if n < 2 else
                          f" ({n} rounds, interval coverage {paired_stats.coverage(n):.1%})")
        ax.errorbar(xs, ys, xerr=[lows, highs], fmt=marker, markersize=4, capsize=2, linewidth=1, label=name, zorder=2)
    ax.set_yticks(range(len(keys)), [case_name(k) for k in keys], fontsize=7)
    ax.set_ylim(len(keys) - 0.5, -0.5)
    ax.set_xlabel(f"rate ÷ baseline rate ({report.baseline.label}); > 1 is faster; "
                  "bars: the median's interval over paired rounds")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=2, frameon=False)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def regressions(report: Report, limit: float) -> list[tuple[str, str, Comparison]]:
    """(case, series label, comparison) for each case called slower by more than ``limit`` (a
    fraction) at the favourable end of its interval (or beyond noise, for single runs)."""
    return [(case_name(k), s.label, c) for i, s in report.others() for k, c in report.comparisons[i].items()
            if c.verdict == "slower" and c.slowdown_bound > limit]


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
    p = OneLineParser(prog=PROG, description="Compare saved benchmark runs (see the module docstring).")
    p.add_argument("paths", nargs="*", type=Path, default=[Path("results")], metavar="PATH",
                   help="saved runs or folders of them (default: results)")
    p.add_argument("--baseline", default=None, help="a series' name (a tox env), a run's path, or a torch version "
                   "(default: the series whose first run is oldest)")
    p.add_argument("--format", type=_format, default="simple", help="any tabulate format (default: simple; "
                   "github for pull requests)")
    p.add_argument("--csv", type=Path, help="also write one row per case and series to this CSV file")
    p.add_argument("--json", type=Path, help="also write the comparison to this JSON file")
    p.add_argument("--markdown", type=Path, help="also write the table, in github format, to this file")
    p.add_argument("--plot", type=Path, help="also plot each case's ratio to the baseline, with its interval, "
                   "to this PNG file")
    p.add_argument("--fail-on-regression", type=_percent, default=None, metavar="PCT",
                   help="exit 1 naming each case called slower by more than PCT%% at the favourable end of its "
                        "interval (single runs: beyond both runs' noise)")
    p.add_argument("--min-change", type=_percent, default=DEFAULT_MIN_CHANGE_PCT, metavar="PCT",
                   help="the smallest change worth calling, in percent (default: %(default)g): faster / slower "
                        "when the whole interval lies beyond it, same when within")
    p.add_argument("--cuda-vs-cpu", action="store_true", help="also print each series' latest CUDA ÷ CPU table")
    p.add_argument("--min-change-instructions", type=_percent, default=instruction_compare.DEFAULT_MIN_CHANGE_PCT,
                   metavar="PCT", help="the smallest change of instructions per call worth calling, in percent "
                   "(default: %(default)g): more / fewer beyond it, same within")
    p.add_argument("--exclude", type=Path, action="append", default=[], metavar="DIR",
                   help="leave out the runs under DIR (repeatable), e.g. the counted runs under results/tox/instructions "
                        "when comparing results/tox's timed rounds")
    p.add_argument("--explain", metavar="CASE", default=None,
                   help="with two PATHs (A B: runs, or folders whose newest counted run is taken): the functions "
                        "whose instruction counts changed most in CASE (a case id such as chapter_net-cpu-bs4-forward), "
                        "exclusive and inclusive, from the callgrind profiles saved beside runs made with --instructions")
    p.add_argument("--top", type=int, default=15, metavar="N", help="with --explain: how many functions (default: 15)")
    args = p.parse_args(argv)
    if args.explain is not None:
        return explain_main(p, args)
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        p.error(f"--plot {str(args.plot)!r}: accepted: a file name ending in .png")
    if args.min_change >= 100:
        p.error(f"--min-change {args.min_change:g}: accepted: a percentage from 0 to under 100, such as 5")
    try:
        runs, notes = collect(args.paths)
        excluded = [e.resolve() for e in args.exclude]
        runs = [r for r in runs if not any(r.path.resolve().is_relative_to(e) for e in excluded)]
        if not runs:
            raise BadInput("--exclude leaves no run to compare")
        series = group_series(runs)
        baseline = choose_baseline(series, args.baseline)
        report = build_report(series, baseline, args.min_change / 100, args.min_change_instructions / 100)
        if report.others() and not any(report.comparisons[i] for i, _ in report.others()):
            raise BadInput(f"the runs have no case in common with the baseline ({baseline.label}); nothing to compare")
        for note in notes:
            print(f"{PROG}: {note}", file=sys.stderr)
        print(header(report))
        print(render(report, args.format))
        if args.cuda_vs_cpu:
            from blitzbench.analysis.summary_table import throughput_table
            for s in series:
                print(f"\nCUDA ÷ CPU, {s.label}, {s.runs[-1].path.name}\n"
                      + (throughput_table(s.runs[-1].benchmarks, list(DEVICES), args.format) or "(no throughput cases)"))
        if args.markdown:
            intro = "  \n".join(header(report).splitlines())
            write_atomic(args.markdown, f"# Comparison of saved runs\n\n{intro}\n\n{render(report, 'github')}\n")
        out = records(report)
        if args.csv:
            write_csv(args.csv, out)
        if args.json:
            write_atomic(args.json, json.dumps({"baseline": baseline.name, "baseline_label": baseline.label,
                                                "min_change": report.min_change,
                                                "confidence": paired_stats.CONFIDENCE,
                                                "series": series_records(report), "records": out}, indent=2) + "\n")
        if args.plot:
            plot(args.plot, report)
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if args.fail_on_regression is not None:
        regressed = regressions(report, args.fail_on_regression / 100)
        if regressed:
            print(f"\nregressions of more than {args.fail_on_regression:g}%:", file=sys.stderr)
            for name, label, c in regressed:
                how = (f"at least {c.slowdown_bound:.1%} slower (ratio {c.interval_text}, {c.rounds} rounds)"
                       if c.method == PAIRED else f"{c.slowdown_bound:.1%} slower beyond noise ({SINGLE_RUN})")
                print(f"  {name} ({label}): {how}", file=sys.stderr)
            return 1
    return 0


def explain_main(p: OneLineParser, args) -> int:
    """--explain CASE A B: where CASE's instructions went between run A and run B."""
    from blitzbench.cases import Case

    if len(args.paths) != 2:
        p.error(f"--explain compares two runs: give A and B (saved runs or folders), not {len(args.paths)} path(s)")
    if args.top < 1:
        p.error(f"--top {args.top}: accepted: a positive number of functions, such as 15")
    try:
        Case.parse(args.explain)
    except ValueError as error:
        p.error(f"--explain: {error}")
    try:
        sides = []
        for path in args.paths:
            runs, _ = collect([path])
            found = instruction_compare.profiled_run(runs, args.explain)
            sides.append((path, runs, found))
        if all(found is None for _, _, found in sides):
            have = sorted(set().union(*(instruction_compare.profiled_cases(runs) for _, runs, _ in sides)))
            raise BadInput(f"--explain {args.explain}: neither {shown(args.paths[0])} nor {shown(args.paths[1])} has a "
                           "callgrind profile of that case; "
                           + (f"cases they have: {', '.join(have)}" if have else
                              "they hold none (runs made with --instructions keep one beside them)"))
        for path, runs, found in sides:
            if found is None:
                raise BadInput(f"--explain {args.explain}: {shown(path)} has no callgrind profile of that case "
                               "(runs made with pytest bench --benchmark-only --instructions keep one beside them)")
        (_, _, (run_a, before)), (_, _, (run_b, after)) = sides
        result = instruction_compare.explain(before, after, args.top)
        print(instruction_compare.render_explain(args.explain, f"{shown(run_a.path)} (torch {run_a.torch_version})",
                                                 f"{shown(run_b.path)} (torch {run_b.torch_version})", result,
                                                 args.format))
        if args.json:
            write_atomic(args.json, json.dumps({"case": args.explain, "a": str(run_a.path), "b": str(run_b.path),
                                                **result}, indent=2) + "\n")
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    return 0
