"""The suite's state for one pytest run, in one object kept in pytest's stash (not as attributes
on ``config``): what the options selected, when the run started, the timer each benchmark case is
timed with, what it measured along the way (``--instructions``' counting too), and the lines
printed at its very end. Both of the suite's plugins (blitzbench.plugin.suite and
blitzbench.plugin.instructions) read and write it here; pytest-benchmark's own session is reached
through the plugin manager (:func:`benchmark_session`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from blitzbench import cases
from blitzbench.plugin import options
from reference_models import MODELS

if TYPE_CHECKING:
    from blitzbench.measure.instructions import Counter, CountingRun
    from blitzbench.measure.timing import CaseTimer


@dataclass
class Counting:
    """``--instructions`` in the timing run: how many counting processes run at once, the
    instruction sets the counted libraries may use, the CPU
    cases collected for counting (blitzbench.measure.instructions), and once they are counted,
    what the counting processes produced."""

    jobs: int
    isa: str  # --counting-isa (blitzbench.counting_isa)
    nodeids: dict[cases.Case, str] = field(default_factory=dict)  # case -> its pytest node id, in collection order
    result: CountingRun | None = None


@dataclass
class SuiteSession:
    devices: tuple[str, ...]
    batch_sizes: tuple[int, ...] | None  # --batch-sizes; None: each kind's defaults
    models: tuple[str, ...]
    phases: tuple[str, ...]
    dtypes: tuple[str, ...]
    memory_formats: tuple[str, ...]
    modes: tuple[str, ...]
    results_dir: Path
    matrix_record: dict | None  # --series/--round/--matrix-id, recorded in the saved run
    quick: bool
    started: datetime = field(default_factory=datetime.now)
    started_utc: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    peaks: dict = field(default_factory=dict)  # matmul peaks measured in this run, by device and math
    profiles: list = field(default_factory=list)  # --profile results, in case order
    final_lines: list[str] = field(default_factory=list)  # the results table and where it went: printed last
    # Each benchmark case's timer (blitzbench.measure.timing.case_timer), chosen once, as it is parametrized.
    timers: dict[cases.Case, CaseTimer] = field(default_factory=dict)
    counting: Counting | None = None  # with --instructions, in the timing run
    counter: Counter | None = None  # in --instructions' counting process: what its cases are counted with

    @classmethod
    def from_options(cls, get) -> "SuiteSession":
        """From pytest's ``config.getoption``; ValueError (one line) on a bad value."""
        text = get("--batch-sizes")
        return cls(
            devices=options.parse_devices(get("--device")),
            batch_sizes=options.parse_batch_sizes(text) if text is not None else None,
            models=options.parse_choices(get("--models"), "--models", tuple(MODELS)),
            phases=options.parse_choices(get("--phases"), "--phases", cases.PHASES),
            dtypes=options.parse_choices(get("--dtypes"), "--dtypes", cases.DTYPES),
            memory_formats=options.parse_choices(get("--memory-formats"), "--memory-formats", cases.MEMORY_FORMATS),
            modes=options.parse_choices(get("--modes"), "--modes", cases.MODES),
            results_dir=options.parse_results_dir(get("--results-dir")),
            matrix_record=options.parse_matrix_record(get("--series"), get("--round"), get("--matrix-id")),
            quick=bool(get("--quick")),
        )


KEY = pytest.StashKey[SuiteSession]()


def of(config) -> SuiteSession:
    """This run's session (made when pytest configures the plugin)."""
    return config.stash[KEY]


BENCHMARK_PLUGIN = "pytest-benchmark"  # the name pytest-benchmark registers its BenchmarkSession under


def benchmark_session(config):
    """pytest-benchmark's BenchmarkSession (its options and the benchmarks it ran), as
    pytest-benchmark registers it with the plugin manager when it configures; None without it."""
    return config.pluginmanager.get_plugin(BENCHMARK_PLUGIN)
