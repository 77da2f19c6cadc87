"""The kinds of benchmark a saved run holds, one case type each, and the figure each kind saves.
Torch-free.

  throughput        a phase of the training step (blitzbench.cases.Case): samples_per_s
  data_loading      batches through a DataLoader or held tensors (bench/test_data_loading.py): images_per_s
  distributed       the DDP training step over ranks (blitzbench.distributed): samples_per_s
  time_to_accuracy  trainings to a test accuracy (bench/test_time_to_accuracy.py): seconds_to_accuracy,
                    the median over its seeds

Every record is saved with its kind (``extra_info["kind"]``; blitzbench.store.upgrade supplies it
for runs saved before). A case of any kind is frozen, hashable and ordered (blitzbench.cases.CaseOrder):
it is the key that lines the case up across runs. Its figure is the one the benchmark saved,
computed once where it was measured; nothing here derives a figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Union

from blitzbench.cases import DEFAULTS, Case, CaseOrder


@dataclass(frozen=True)
class DataLoadingCase(CaseOrder):
    kind: ClassVar[str] = "data_loading"
    unit: ClassVar[str] = "images/s"
    figure_field: ClassVar[str] = "images_per_s"

    dataset: str
    source: str
    augment: bool
    device: str

    @property
    def id(self) -> str:
        return f"{self.dataset}-{self.device}-{self.source}-{'augmented' if self.augment else 'plain'}"

    @property
    def sort_key(self) -> tuple:
        return (self.dataset, self.source, self.augment, self.device)


@dataclass(frozen=True)
class DistributedCase(CaseOrder):
    kind: ClassVar[str] = "distributed"
    unit: ClassVar[str] = "samples/s"
    figure_field: ClassVar[str] = "samples_per_s"

    model: str
    backend: str
    world_size: int
    global_batch_size: int

    @property
    def id(self) -> str:
        return f"{self.model}-{self.backend}-{self.world_size}ranks-bs{self.global_batch_size}-ddp_train_step"

    @property
    def sort_key(self) -> tuple:
        return (self.model, self.backend, self.world_size, self.global_batch_size)


@dataclass(frozen=True)
class TimeToAccuracyCase(CaseOrder):
    kind: ClassVar[str] = "time_to_accuracy"
    unit: ClassVar[str] = "s to accuracy"
    figure_field: ClassVar[str] = "seconds_to_accuracy"

    model: str
    dataset: str
    device: str
    loop: str
    mode: str
    target: float

    @property
    def id(self) -> str:
        mode = "" if self.mode == DEFAULTS["mode"] else f"-{self.mode}"
        return f"{self.model}-{self.device}-{self.dataset}-{self.loop}_loop{mode}-to_{self.target:.0%}"

    @property
    def sort_key(self) -> tuple:
        return (self.model, self.dataset, self.device, self.loop, self.mode, self.target)


AnyCase = Union[Case, DataLoadingCase, DistributedCase, TimeToAccuracyCase]
KINDS: dict[str, type] = {kind.kind: kind for kind in (Case, DataLoadingCase, DistributedCase, TimeToAccuracyCase)}
SECONDS = TimeToAccuracyCase.unit  # the one unit whose figure is a time (smaller is faster)


def case_of(info: dict) -> AnyCase | None:
    """The case a saved benchmark's ``extra_info`` records, by its kind; None for what is not a
    case of this suite."""
    kind = KINDS.get(info.get("kind"))
    return kind.from_info(info) if kind else None


@dataclass(frozen=True)
class CaseStats:
    """What a run measured of one case: its saved figure and the median time it came from."""

    median_s: float  # seconds per timed call (time to accuracy: per training), the median
    figure: float  # as saved: samples/s, images/s, or seconds to accuracy
    unit: str
    noise: float | None = None  # as saved: IQR / median of the timed rounds

    @property
    def rate(self) -> float:
        """The figure as a rate (time to accuracy: trainings per second), > 1 ratios being faster."""
        return 1 / self.figure if self.unit == SECONDS else self.figure


def _positive(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value > 0 and math.isfinite(value) else None


def case_stats(bench: dict, case: AnyCase) -> CaseStats | None:
    """A saved benchmark's figure (``case.figure_field``), with pytest-benchmark's median of its
    timed rounds (a time to accuracy's median is its figure); None where either is missing or not
    a positive number (an untimed run)."""
    info = bench.get("extra_info") or {}
    figure = _positive(info.get(case.figure_field))
    median = figure if case.unit == SECONDS else _positive((bench.get("stats") or {}).get("median"))
    if figure is None or median is None:
        return None
    return CaseStats(median, figure, case.unit, info.get("noise_iqr_over_median"))
