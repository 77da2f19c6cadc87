"""The comparison of saved runs, as a model every view renders (the terminal and Markdown tables,
the HTML page, the JSON and CSV exports): series against a baseline series, case by case, with
the time verdict and the instruction-count verdict of blitzbench.analysis.verdicts.

Time: per case, a series' timed runs are paired with the baseline's round by round
(blitzbench.analysis.saved_runs.pair_runs); the ratio is the median over rounds of (rate in round
i) ÷ (baseline rate in round i), > 1 meaning faster, with the distribution-free interval of
blitzbench.analysis.paired_stats. A single round has a ratio and no interval. Counted runs
(``--instructions``) never enter it: their times were taken under counting.

Counts: per case, instructions per call of the series ÷ the baseline's
(blitzbench.analysis.instruction_compare).

A series' summary is the geometric mean of its ratios: per round over the cases every round of
both series ran, then the median over rounds and its interval, as for one case.

The gate (``--fail-on-regression``) reads the ratio of medians, as pytest-benchmark's
compare-fail does: the series' median time ÷ the baseline's, whatever the verdict.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import geometric_mean

from blitzbench.analysis import instruction_compare, paired_stats, verdicts
from blitzbench.analysis.saved_runs import Run, Series, pair_runs
from blitzbench.messages import BadInput
from blitzbench.kinds import AnyCase, CaseStats

PAIRED = "paired rounds"
SINGLE_RUN = "single run"
COUNTED_TIMES = "the times of runs that counted instructions (--instructions) are left out of time comparisons"


@dataclass(frozen=True)
class Comparison:
    """One case of a series against the baseline, by time."""

    ratio: float  # median over rounds of rate ÷ baseline rate (> 1: faster)
    verdict: str  # faster, slower, same, unclear, "unclear (N runs)"
    rounds: int  # paired rounds behind it
    ci_low: float | None = None
    ci_high: float | None = None
    coverage: float | None = None  # the interval's exact coverage
    ratios: tuple[float, ...] = ()  # per round
    time_ratio_of_medians: float = 1.0  # the series' median time ÷ the baseline's (> 1: slower)

    @property
    def method(self) -> str:
        return PAIRED if self.rounds >= 2 else SINGLE_RUN

    @property
    def slowdown(self) -> float:
        """How much slower by the ratio of medians (negative: faster); what the gate reads."""
        return self.time_ratio_of_medians - 1

    @property
    def interval_text(self) -> str:
        if self.ci_low is None:
            return f"{self.ratio:.2f}"
        return f"{self.ratio:.2f} [{self.ci_low:.2f}, {self.ci_high:.2f}]"


def _median_time(stats: list[CaseStats]) -> float:
    return statistics.median(s.median_s for s in stats)


def compare_case(pairs: list[tuple[Run, Run]], base: Series, other: Series, key: AnyCase,
                 min_change: float) -> Comparison | None:
    """``key`` in ``other`` against ``base``, over the rounds where both ran it."""
    usable = [(b.cases[key], o.cases[key]) for b, o in pairs if key in b.cases and key in o.cases]
    if not usable:
        return None
    of_medians = (_median_time([r.cases[key] for r in other.timed_runs if key in r.cases])
                  / _median_time([r.cases[key] for r in base.timed_runs if key in r.cases]))
    ratios = [o.rate / b.rate for b, o in usable]
    if len(usable) == 1:
        return Comparison(ratios[0], verdicts.too_few_runs(1), 1, time_ratio_of_medians=of_medians)
    estimate = paired_stats.paired_estimate(ratios)
    return Comparison(estimate.ratio, verdicts.time_verdict(estimate, estimate.rounds, min_change), estimate.rounds,
                      estimate.ci_low, estimate.ci_high, estimate.coverage, estimate.ratios, of_medians)


@dataclass
class SeriesSummary:
    """A series' geometric mean of time ratios over the cases it shares with the baseline."""

    ratio: float | None
    verdict: str
    rounds: int
    cases: int
    ci_low: float | None = None
    ci_high: float | None = None
    coverage: float | None = None
    counts: dict[str, int] = field(default_factory=dict)  # verdict (without its note) -> cases

    @property
    def interval_text(self) -> str:
        if self.ratio is None:
            return "n/a"
        if self.ci_low is None:
            return f"{self.ratio:.3f}"
        return f"{self.ratio:.3f} [{self.ci_low:.3f}, {self.ci_high:.3f}]"


def summarize(pairs: list[tuple[Run, Run]], comparisons: dict[AnyCase, Comparison], min_change: float) -> SeriesSummary:
    """Paired (2 rounds or more): per round, the geometric mean over the cases every round of both
    series ran, then the median of those and its interval. One round: the plain geometric mean."""
    counts = dict(Counter(verdicts.kind(c.verdict) for c in comparisons.values()))
    if len(pairs) >= 2:
        common = [k for k in comparisons if all(k in b.cases and k in o.cases for b, o in pairs)]
        if common:
            per_round = [geometric_mean(o.cases[k].rate / b.cases[k].rate for k in common) for b, o in pairs]
            estimate = paired_stats.paired_estimate(per_round)
            return SeriesSummary(estimate.ratio, verdicts.time_verdict(estimate, estimate.rounds, min_change),
                                 estimate.rounds, len(common), estimate.ci_low, estimate.ci_high, estimate.coverage,
                                 counts)
    ratios = [c.ratio for c in comparisons.values()]
    # One pair: no drift measured. Several pairs but no case in every one of them: no paired
    # geometric mean exists, and the plain one is not called either way.
    n = len(pairs)
    verdict = verdicts.UNCLEAR if verdicts.enough_rounds(n) else verdicts.too_few_runs(n)
    return SeriesSummary(geometric_mean(ratios) if ratios else None, verdict, n, len(ratios), counts=counts)


@dataclass(frozen=True)
class Figure:
    """A series' own figure for a case: the figure its timed runs saved (a rate: samples/s,
    images/s; or, for time to accuracy, seconds), of the middle run by rate."""

    value: float
    unit: str  # "samples/s", "images/s", "s to accuracy"
    median_s: float
    runs: int


def series_figure(series: Series, key: AnyCase) -> Figure | None:
    stats = sorted((r.cases[key] for r in series.timed_runs if key in r.cases), key=lambda c: c.rate)
    if not stats:
        return None
    middle = stats[(len(stats) - 1) // 2]  # the lower middle run for an even count
    return Figure(middle.figure, middle.unit, middle.median_s, len(stats))


@dataclass
class Side:
    """One compared series against the baseline: by time and by counts."""

    index: int
    series: Series
    rounds: int  # paired timed rounds
    times: dict[AnyCase, Comparison]
    summary: SeriesSummary | None
    counts: dict[AnyCase, instruction_compare.CountComparison]
    count_summary: instruction_compare.CountSummary
    time_absent: str | None = None  # why no time is compared, when none is


@dataclass
class Report:
    series: list[Series]
    baseline: Series
    keys: list[AnyCase]  # every case of any run, in reading order
    min_change: float
    min_change_instructions: float
    sides: dict[int, Side]  # series index -> its comparison; the baseline has none
    machines: dict[str, list[str]]  # machine -> the labels of its series, majority first
    baseline_reason: str = ""
    counting_isa: tuple[str, ...] = ()  # the --counting-isa settings of the counted runs (series apart)

    @property
    def counted(self) -> bool:
        """Whether any run of any series carries instruction counts."""
        return any(r.instructions for s in self.series for r in s.runs)

    @property
    def timed(self) -> bool:
        """Whether any series has a time compared with the baseline."""
        return any(side.times for side in self.sides.values())

    def others(self) -> list[Side]:
        return [self.sides[i] for i in sorted(self.sides)]

    def figure(self, series: Series, key: AnyCase) -> Figure | None:
        return series_figure(series, key)


def _time_absent(base: Series, other: Series) -> str | None:
    if not other.timed_runs:
        return "every run of this series counted instructions"
    if not base.timed_runs:
        return "every run of the baseline counted instructions"
    return None


def machines_of(series: list[Series]) -> dict[str, list[str]]:
    """Machine (CPU model and GPU) -> its series' labels, the machine with the most runs first."""
    runs = Counter()
    labels: dict[str, list[str]] = {}
    for s in series:
        runs[s.machine_identity] += len(s.runs)
        labels.setdefault(s.machine_identity, []).append(s.label)
    return {m: labels[m] for m, _ in sorted(runs.items(), key=lambda item: (-item[1], item[0]))}


def choose_baseline(series: list[Series], spec: str | None) -> tuple[Series, str]:
    """--baseline: a series' name (a tox env), a run's path or a series' folder, or a torch version
    (the first series of it); by default the first series (the lowest release, of one release the
    oldest) of the machine with the most runs, among the series with timed runs where any has."""
    if spec is None:
        majority = next(iter(machines_of(series)))
        mine = [s for s in series if s.machine_identity == majority]
        chosen = next((s for s in mine if s.timed_runs), mine[0])
        why = "the lowest release" + (f" of the machine with the most runs ({majority})"
                                      if len(machines_of(series)) > 1 else "")
        return chosen, why
    for s in series:
        if spec in (s.name, s.label):
            return s, "--baseline"
    path = Path(spec)
    if path.exists():
        for s in series:
            if any(path.resolve() in (r.path.resolve(), r.path.parent.resolve()) for r in s.runs):
                return s, "--baseline"
    for s in series:
        if spec in (s.torch_version, s.torch_version.split("+")[0]):
            return s, "--baseline"
    raise BadInput(f"--baseline {spec!r} matches no run or series; give a series' name ({', '.join(s.name for s in series)}), "
                   f"a run's path or a torch version ({', '.join(sorted({s.torch_version for s in series}))})")


def build_report(series: list[Series], baseline: Series, min_change: float,
                 min_change_instructions: float = instruction_compare.DEFAULT_MIN_CHANGE_PCT / 100,
                 baseline_reason: str = "") -> Report:
    keys = sorted({k for s in series for r in s.runs for k in r.cases})
    for s in series:  # a series' counts are one median: of one setting
        instruction_compare.check_one_setting(s.runs)
    isa = tuple(sorted({r.counting_isa for s in series for r in s.runs if r.instructions}))
    sides = {}
    for i, s in enumerate(series):
        if s is baseline:
            continue
        pairs = pair_runs(baseline, s)
        found = {k: compare_case(pairs, baseline, s, k, min_change) for k in keys} if pairs else {}
        times = {k: c for k, c in found.items() if c is not None}
        if any(r.instructions for r in baseline.runs) and any(r.instructions for r in s.runs):
            instruction_compare.check_one_setting([*baseline.runs, *s.runs])  # never counts of two settings
        counts = instruction_compare.compare_counts(baseline, s, keys, min_change_instructions)
        sides[i] = Side(i, s, len(pairs), times, summarize(pairs, times, min_change) if times else None, counts,
                        instruction_compare.summarize_counts(counts, min_change_instructions),
                        _time_absent(baseline, s))
    return Report(series, baseline, keys, min_change, min_change_instructions, sides, machines_of(series),
                  baseline_reason, isa)


@dataclass(frozen=True)
class Regression:
    case: str
    label: str
    comparison: Comparison


def regressions(report: Report, limit: float) -> list[Regression]:
    """Each case whose ratio of medians is more than ``limit`` (a fraction) slower than the
    baseline's, whatever its verdict (as pytest-benchmark's --benchmark-compare-fail)."""
    return [Regression(k.id, side.series.label, c) for side in report.others()
            for k, c in side.times.items() if c.slowdown > limit]
