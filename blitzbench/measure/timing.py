"""How each device is timed, as pytest-benchmark options.

Python's garbage collector is off while a case is timed, as in timeit and
torch.utils.benchmark.Timer: a collection landing in one round is noise, not the case's cost.

CPU: pytest-benchmark's own calibration with ``time.perf_counter``, after warm-up rounds.

CUDA: kernels run asynchronously, so a round's clock is read only after
``torch.cuda.synchronize()`` (:func:`cuda_synchronized_perf_counter`, the timer pytest-benchmark
calls before and after each round). A synchronize drains the queue: the host waits for the last
kernel, then the GPU waits for the host's next launch, so a round costs about one call's latency
more than the calls' throughput time. Training does not synchronize per step, so every CUDA round
holds back-to-back calls, enough that this costs under 2% (:func:`cuda_round_calls`: at least
20 calls and 25 ms, more when the measured latency says so), for every phase alike. The time of
one synchronized call is kept beside it as ``latency_s``.

The backward phase needs a fresh graph (zero_grad, forward, loss) before each call, and that
forward must not be counted: on CUDA each call's ``loss.backward()`` is bracketed by CUDA events
recorded on the stream, and the round's time is the sum of those spans
(:class:`CudaEventClock`, the timer of CUDA backward cases: one per case).

:func:`case_timer` chooses a case's timer, and names it, once.

CUDA cases also run the workload :data:`CUDA_WARMUP_CALLS` times before timing, to absorb lazy
initialisation (context, cuBLAS handles, cuDNN's algorithm choice) that would otherwise land in
the first rounds.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch

CUDA_WARMUP_CALLS = 25
# A round lasts at least MIN_ROUND_SECONDS (many iterations for short work), so that a round's
# time is a mean over iterations, as torch.utils.benchmark's blocks are.
MIN_ROUND_SECONDS = 0.002
MAX_SECONDS = {"full": 1.0, "quick": 0.25}  # timed seconds per case, warm-up aside
WARMUP_ITERATIONS = {"full": 20, "quick": 10}


CUDA_MIN_ROUND_SECONDS = 0.025
CUDA_MIN_ROUND_CALLS = 20
CUDA_SYNC_SHARE = 0.02  # the most a round's synchronize may add to it
CUDA_MAX_ROUND_CALLS = 100_000
CUDA_MIN_ROUNDS, CUDA_MAX_ROUNDS = 5, 200
LATENCY_REPEATS = 10


def cuda_synchronized_perf_counter() -> float:
    """time.perf_counter() read after every queued CUDA kernel has finished."""
    torch.cuda.synchronize()
    return time.perf_counter()


class CudaEventClock:
    """A clock that advances only by the GPU time between pairs of CUDA events.

    ``start()`` and ``stop()`` record events on the current stream around the work to count;
    calling the clock synchronizes, adds the finished spans (``elapsed_time``, milliseconds) to
    its total and returns the total in seconds, so that pytest-benchmark's "end - start" of a
    round is the summed spans of that round. ``event`` and ``synchronize`` are for tests.
    """

    __name__ = "CudaEventClock (loss.backward() between CUDA events)"

    def __init__(self, event=None, synchronize=None):
        self._event = event or (lambda: torch.cuda.Event(enable_timing=True))
        self._synchronize = synchronize or torch.cuda.synchronize
        self._spans: list[tuple] = []
        self._open = None
        self.total_s = 0.0

    def start(self) -> None:
        self._open = self._event()
        self._open.record()

    def stop(self) -> None:
        if self._open is None:
            raise RuntimeError("CudaEventClock.stop() without start()")
        end = self._event()
        end.record()
        self._spans.append((self._open, end))
        self._open = None

    def __call__(self) -> float:
        self._synchronize()
        self.total_s += sum(start.elapsed_time(end) for start, end in self._spans) / 1000
        self._spans.clear()
        return self.total_s


@dataclass(frozen=True)
class CaseTimer:
    """The clock pytest-benchmark reads before and after each of a case's rounds, and the name
    saved beside the case's time (its ``extra_info["timer"]``)."""

    clock: Callable[[], float]
    name: str


def case_timer(device: str, phase: str) -> CaseTimer:
    """The timer of a case on ``device`` in ``phase``, chosen once per case (blitzbench.plugin.suite
    gives its clock to the case's benchmark mark, and the case times its CUDA calls on the same
    clock): on the CPU ``time.perf_counter``; on CUDA :func:`cuda_synchronized_perf_counter`, or
    for the backward phase a :class:`CudaEventClock` of the case's own (this module's docstring
    says why)."""
    if device != "cuda":
        return CaseTimer(time.perf_counter, "time.perf_counter (pytest-benchmark calibration)")
    if phase == "backward":
        return CaseTimer(CudaEventClock(),
                         "CUDA events around each loss.backward(), back-to-back calls, one synchronize per round")
    return CaseTimer(cuda_synchronized_perf_counter,
                     "torch.cuda.synchronize + time.perf_counter, back-to-back calls, one synchronize per round")


def benchmark_options(timer: CaseTimer, group: str, quick: bool) -> dict:
    """Keyword arguments for ``pytest.mark.benchmark`` on one case timed by ``timer``."""
    mode = "quick" if quick else "full"
    return dict(timer=timer.clock, group=group, min_time=MIN_ROUND_SECONDS,
                max_time=MAX_SECONDS[mode], min_rounds=5, warmup=True,
                warmup_iterations=WARMUP_ITERATIONS[mode], disable_gc=True)


def cuda_round_calls(seconds_per_call: float, latency_s: float) -> int:
    """Back-to-back calls per CUDA round, so that the round's one synchronize costs under 2%.

    A synchronized round costs about one call's ``latency_s - seconds_per_call`` more than its
    calls' throughput time (the queue drains at the end and refills at the start), so a round
    needs (latency - per call) / (2% of per call) calls; and at least 20 calls and 25 ms.
    """
    per_call = max(seconds_per_call, 1e-9)
    overhead = max(0.0, latency_s - per_call)
    calls = max(CUDA_MIN_ROUND_CALLS, math.ceil(CUDA_MIN_ROUND_SECONDS / per_call),
                math.ceil(overhead / (CUDA_SYNC_SHARE * per_call)))
    return min(calls, CUDA_MAX_ROUND_CALLS)


def cuda_rounds(seconds_per_round: float, quick: bool) -> tuple[int, int]:
    """(rounds, warm-up rounds) of CUDA rounds filling the case's time budget (at least 5)."""
    budget = MAX_SECONDS["quick" if quick else "full"]
    rounds = int(budget / max(seconds_per_round, 1e-9))
    return max(CUDA_MIN_ROUNDS, min(CUDA_MAX_ROUNDS, rounds)), 1


def seconds_per_call(call, clock, calls: int = CUDA_MIN_ROUND_CALLS) -> float:
    """``calls`` back-to-back calls on ``clock`` (a CUDA round in small), per call."""
    start = clock()
    for _ in range(calls):
        call()
    return (clock() - start) / calls


def latency_seconds(call, clock, repeats: int = LATENCY_REPEATS, setup=None) -> float:
    """Median time of one call read on ``clock`` (which synchronizes on CUDA): a call's latency.
    ``setup()`` (untimed) returns the call's arguments."""
    times = []
    for _ in range(repeats):
        args = setup() if setup else ()
        start = clock()
        call(*args)
        times.append(clock() - start)
    return statistics.median(times)


def event_timed_backward(workload, clock: CudaEventClock):
    """One backward call for a CUDA round: a fresh graph (not counted), then loss.backward()
    between ``clock``'s events."""
    def call():
        (loss,), _ = workload.fresh_graph()
        clock.start()
        workload.backward(loss)
        clock.stop()
    return call


def pedantic_rounds(seconds_per_call: float, quick: bool) -> tuple[int, int]:
    """(rounds, warm-up rounds) for work that needs a fresh setup per call (the backward phase).

    pytest-benchmark cannot calibrate such work (one call per round), so the round count is
    chosen to fill the same time budget as a calibrated case: between 5 and 2000 rounds.
    """
    budget = MAX_SECONDS["quick" if quick else "full"]
    rounds = int(budget / max(seconds_per_call, 1e-6))
    rounds = max(5, min(2000, rounds))
    return rounds, max(2, rounds // 10)


# -- an independent timing of the same calls, for the fidelity check (blitzbench.measure.fidelity) --
# Not pytest-benchmark's rounds: on the CPU torch.utils.benchmark.Timer's blocked_autorange, on
# CUDA CUDA events around blocks of back-to-back calls, so that agreement means something.
INDEPENDENT_METHOD = {"cpu": "torch.utils.benchmark.Timer", "cuda": "CUDA events around blocks of calls"}
CUDA_BLOCK_CALLS, CUDA_BLOCK_SECONDS = 50, 0.05  # each CUDA event block: at least this many calls and seconds


def independent_median(call, device: str, min_run_time: float, label: str = "") -> float:
    """Median seconds per call of ``call`` on ``device``, timed as :data:`INDEPENDENT_METHOD` says."""
    if device == "cuda":
        return cuda_event_median(call, min_run_time)
    import torch.utils.benchmark as tbench

    timer = tbench.Timer("fn()", globals={"fn": call}, num_threads=torch.get_num_threads(), label=label)
    timer.timeit(10)  # warm-up
    return timer.blocked_autorange(min_run_time=min_run_time).median


def cuda_event_median(call, min_run_time: float) -> float:
    """Median seconds per call over blocks of back-to-back calls timed by CUDA events, after the
    suite's warm-up (:data:`CUDA_WARMUP_CALLS`)."""
    for _ in range(CUDA_WARMUP_CALLS):
        call()
    torch.cuda.synchronize()
    start_wall = time.perf_counter()
    for _ in range(5):
        call()
    torch.cuda.synchronize()
    per_call = (time.perf_counter() - start_wall) / 5
    calls = max(CUDA_BLOCK_CALLS, math.ceil(CUDA_BLOCK_SECONDS / max(per_call, 1e-9)))
    blocks, spent = [], 0.0
    while spent < min_run_time or len(blocks) < 5:
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        for _ in range(calls):
            call()
        end.record()
        end.synchronize()
        seconds = begin.elapsed_time(end) / 1000
        blocks.append(seconds / calls)
        spent += seconds
    return statistics.median(blocks)
