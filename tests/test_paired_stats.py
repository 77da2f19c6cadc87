"""blitzbench.analysis.paired_stats: the median's order-statistic interval, its coverage, and the verdict rules."""

import math
import random

import pytest

from blitzbench.analysis import paired_stats
from blitzbench.analysis.paired_stats import PairedEstimate, median_interval, paired_estimate, verdict


@pytest.mark.parametrize("n, k", [(2, 1), (4, 1), (5, 1), (6, 1), (8, 1), (9, 2), (12, 3), (20, 6)])
def test_interval_takes_the_kth_order_statistics_with_exact_binomial_coverage(n, k):
    values = [float(v) for v in range(n, 0, -1)]  # unsorted on purpose
    low, high, coverage = median_interval(values)
    assert (low, high) == (k, n + 1 - k)
    # Coverage of [x_(k), x_(n+1-k)] for a continuous distribution's median: 1 - 2 P(Bin(n, 1/2) <= k-1).
    tail = sum(math.comb(n, i) for i in range(k)) / 2 ** n
    assert coverage == pytest.approx(1 - 2 * tail)


def test_six_rounds_are_the_fewest_that_reach_95_percent():
    five, six = median_interval(range(5))[2], median_interval(range(6))[2]
    assert five == pytest.approx(1 - 2 / 2 ** 5) and five < 0.95
    assert six == pytest.approx(1 - 2 / 2 ** 6) and six >= 0.95
    assert paired_stats.MIN_ROUNDS == 6
    assert [paired_stats.coverage(n) for n in (4, 6, 9)] == [1 - 2 / 2 ** 4, 1 - 2 / 2 ** 6, 1 - 2 * 10 / 2 ** 9]


@pytest.mark.parametrize("n", [4, 6, 9])
def test_stated_coverage_matches_a_simulation(n):
    """Draw n values from a skewed distribution many times; the interval should hold the true
    median as often as it says (to within the simulation's own error)."""
    rng = random.Random(n)
    true_median = math.log(2)  # of the exponential distribution with rate 1
    trials, hits = 20000, 0
    for _ in range(trials):
        low, high, coverage = median_interval([rng.expovariate(1.0) for _ in range(n)])
        hits += low <= true_median <= high
    assert abs(hits / trials - coverage) < 4 * math.sqrt(coverage * (1 - coverage) / trials) + 1e-3


def test_an_interval_needs_two_values():
    with pytest.raises(ValueError):
        median_interval([1.0])


def _estimate(low, high, coverage=0.969):
    return PairedEstimate((low + high) / 2, low, high, coverage, (low, high))


@pytest.mark.parametrize("low, high, expected", [
    (0.80, 0.94, "slower"),   # wholly below 1 - 5%
    (1.06, 1.30, "faster"),   # wholly above 1 + 5%
    (0.96, 1.04, "same"),     # wholly within ±5%
    (0.90, 1.02, "unclear"),  # straddles the -5% line
    (0.85, 1.20, "unclear"),
])
def test_verdict_needs_the_whole_interval_beyond_or_within_min_change(low, high, expected):
    assert verdict(_estimate(low, high), 0.05) == expected


def test_no_call_when_the_interval_covers_less_than_95_percent():
    four_rounds = paired_estimate([0.80, 0.82, 0.81, 0.83])  # all clearly slower, but only 4 rounds
    assert four_rounds.coverage == pytest.approx(0.875)
    assert verdict(four_rounds, 0.05) == "unclear"
    six_rounds = paired_estimate([0.80, 0.82, 0.81, 0.83, 0.80, 0.84])
    assert verdict(six_rounds, 0.05) == "slower"
