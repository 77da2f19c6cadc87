"""The verdicts of a comparison, all three rules in one place: what the data can carry is said,
and nothing more. Torch-free; plain functions of numbers.

Time, paired rounds (blitzbench.analysis.paired_stats): per case, the median over rounds of the
paired ratio (rate in round i ÷ the baseline's rate in round i) with its distribution-free
interval. "faster" / "slower" when the whole interval lies beyond ±min-change, "same" when it
lies within it, "unclear" when it straddles. The interval reaches 95% coverage from
``paired_stats.MIN_ROUNDS`` (6) rounds.

Time, too few runs: with fewer paired rounds than that (a single run on either side included)
the data cannot tell a release from the machine's drift between runs (10-30% on a shared
machine), so the verdict is "unclear (N run(s))", whatever the ratio. The ratio is still shown.

Instruction counts (blitzbench.analysis.instruction_compare): a count does not drift between
runs as time does (two counted runs of one release agree to about 0.1-0.3%), so one run per
side decides: "more" / "fewer" beyond ±min-change-instructions, "same" within.
"""

from __future__ import annotations

from blitzbench.analysis import paired_stats

FASTER, SLOWER, SAME, UNCLEAR = "faster", "slower", "same", "unclear"
MORE, FEWER = "more", "fewer"
# A change of time is called only beyond this (blitzbench report --min-change): machines like these
# drift by 10-30% between runs, and paired rounds narrow that to a few percent.
DEFAULT_MIN_CHANGE_PCT = 5.0


def plural(n: int, noun: str) -> str:
    """ "1 run", "2 runs", "1 case", "30 cases", "1 series", "2 series"."""
    return f"{n} {noun}" if n == 1 or noun.endswith("series") else f"{n} {noun}s"


def runs_text(n: int) -> str:
    return plural(n, "run")


def too_few_runs(rounds: int) -> str:
    """The time verdict where the rounds cannot carry one: "unclear (3 runs)"."""
    return f"{UNCLEAR} ({runs_text(rounds)})"


def enough_rounds(rounds: int) -> bool:
    """Whether ``rounds`` paired rounds give an interval of the asked-for coverage."""
    return rounds >= 2 and paired_stats.coverage(rounds) >= paired_stats.CONFIDENCE


def time_verdict(estimate: paired_stats.PairedEstimate | None, rounds: int, min_change: float) -> str:
    """The time verdict of ``rounds`` paired rounds (``estimate`` None for a single round)."""
    if estimate is None or not enough_rounds(rounds):
        return too_few_runs(rounds)
    return paired_stats.verdict(estimate, min_change)


def kind(verdict: str) -> str:
    """The verdict's word without its note ("unclear (1 run)" -> "unclear")."""
    return verdict.split(" (", 1)[0]


def count_verdict(ratio: float, min_change: float) -> str:
    """More / fewer instructions beyond ``min_change`` (a fraction), same within."""
    if ratio > 1 + min_change:
        return MORE
    if ratio < 1 - min_change:
        return FEWER
    return SAME
