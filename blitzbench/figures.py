"""Figures the suite derives from its measurements, and the thresholds it judges them by, each
defined once (torch-free: the tables and the report use them where torch is not installed)."""

from __future__ import annotations

NOISY_ABOVE = 0.10  # a case's timing is called noisy above this IQR / median
LAUNCH_BOUND_BELOW = 0.5  # a CUDA case whose GPU is busy less than this fraction of the wall time waits on the host


def iqr_over_median(iqr: float | None, median: float | None) -> float | None:
    """The timing's noise: the spread of the middle half of the rounds over their median (None
    when either is missing or the median is 0)."""
    return iqr / median if median and iqr is not None else None
