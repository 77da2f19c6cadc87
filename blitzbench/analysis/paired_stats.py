"""Statistics for comparing two series of interleaved runs: paired ratios, the median and its
distribution-free interval, and the verdict. Plain Python (torch-free), nothing printed.

Why paired: on a shared machine whole runs drift (a run minutes later can be 10-25% slower for no
reason but the machine). When the series are interleaved (A B, B A, A B, ...), round i of each
saw about the same machine, so the ratio within a round cancels most of the drift, and the median
over rounds ignores the round where it did not.

Why order statistics: the interval for the median of n paired ratios is [x_(k), x_(n+1-k)] (the
k-th smallest and k-th largest), with the largest k for which the binomial tail leaves at least the
asked-for coverage. It assumes only that the rounds are independent; no normal shape, no
bootstrap (which is overconfident over a handful of values). Its coverage is exact:
1 - 2 * P(Binomial(n, 1/2) <= k - 1). With n rounds the widest interval, min..max, covers
1 - 2 / 2**n of the time, so 95% needs n >= 6 (96.9%); n = 9 is the first that can drop the extremes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median

CONFIDENCE = 0.95
MIN_ROUNDS = 6  # the fewest paired rounds whose min..max interval reaches CONFIDENCE


def _binomial_half_cdf(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) <= k)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n


def median_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(low, high, coverage): the order-statistic interval for the median of ``values``.

    The narrowest such interval whose exact coverage is at least ``confidence``; with too few
    values for that, min..max and its (lower) coverage, 1 - 2 / 2**n. Needs two values or more.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n < 2:
        raise ValueError("an interval for a median needs at least two values")
    k = _order_statistic(n, confidence)
    return ordered[k - 1], ordered[n - k], _coverage_of(k, n)


def _coverage_of(k: int, n: int) -> float:
    """Exact coverage of [x_(k), x_(n+1-k)] for the median of n values: 1 - 2 P(Bin(n, 1/2) <= k-1)."""
    return 1 - 2 * _binomial_half_cdf(k - 1, n)


def _order_statistic(n: int, confidence: float) -> int:
    """The largest k whose interval still covers ``confidence``; 1 (min..max) when none does."""
    k = 1
    while k + 1 <= n // 2 and _coverage_of(k + 1, n) >= confidence:
        k += 1
    return k


def coverage(n: int, confidence: float = CONFIDENCE) -> float:
    """The exact coverage of the interval median_interval gives for n values."""
    return _coverage_of(_order_statistic(n, confidence), n)


@dataclass(frozen=True)
class PairedEstimate:
    """A ratio (other ÷ baseline, > 1: other is faster) from paired rounds, and its interval."""

    ratio: float  # median of the per-round ratios
    ci_low: float
    ci_high: float
    coverage: float  # exact coverage of [ci_low, ci_high]
    ratios: tuple[float, ...]  # per round, in round order

    @property
    def rounds(self) -> int:
        return len(self.ratios)


def paired_estimate(ratios, confidence: float = CONFIDENCE) -> PairedEstimate:
    ratios = tuple(ratios)
    low, high, coverage = median_interval(ratios, confidence)
    return PairedEstimate(median(ratios), low, high, coverage, ratios)


def verdict(estimate: PairedEstimate, min_change: float, confidence: float = CONFIDENCE) -> str:
    """faster / slower when the whole interval lies beyond ``min_change`` (a fraction) from 1, same
    when it lies within it, unclear otherwise, and unclear whenever the interval's coverage is
    below ``confidence`` (too few rounds to call anything)."""
    if estimate.coverage < confidence:
        return "unclear"
    if estimate.ci_low > 1 + min_change:
        return "faster"
    if estimate.ci_high < 1 - min_change:
        return "slower"
    if 1 - min_change <= estimate.ci_low and estimate.ci_high <= 1 + min_change:
        return "same"
    return "unclear"
