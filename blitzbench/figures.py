"""Figures the suite derives from its measurements, and the thresholds it judges them by, each
defined once (torch-free: the tables and the report use them where torch is not installed)."""

from __future__ import annotations

NOISY_ABOVE = 0.10  # a case's timing is called noisy above this IQR / median
LAUNCH_BOUND_BELOW = 0.5  # a CUDA case whose GPU is busy less than this fraction of the wall time waits on the host
STEP_HAS_NO_FLOPS = "an optimizer step has no convolutions or matrix products (element-wise work is not counted)"


def iqr_over_median(iqr: float | None, median: float | None) -> float | None:
    """The timing's noise: the spread of the middle half of the rounds over their median (None
    when either is missing or the median is 0)."""
    return iqr / median if median and iqr is not None else None


def per_second(units_per_call: float, median_s: float) -> float:
    """A rate (samples/s, images/s): the units one timed call handles over its median time."""
    return units_per_call / median_s


def rate_text(value: float | None) -> str:
    """A rate as the tables and the report show it: whole with thousands separators from 100 up,
    three significant digits below; n/a when there is none."""
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
