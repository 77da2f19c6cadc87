"""How each device is timed, as pytest-benchmark options.

Python's garbage collector is off while a case is timed, as in timeit and
torch.utils.benchmark.Timer: a collection landing in one round is noise, not the case's cost.

CPU: pytest-benchmark's own calibration with ``time.perf_counter``, after warm-up rounds.
CUDA: kernels run asynchronously, so the clock is read only after ``torch.cuda.synchronize()``:
:func:`cuda_synchronized_perf_counter` is the timer pytest-benchmark calls before and after each
round, so every round covers finished work, not kernel launches. CUDA cases also run the
workload :data:`CUDA_WARMUP_CALLS` times before timing, to absorb lazy initialisation (context,
cuBLAS handles, cuDNN's algorithm choice) that would otherwise land in the first rounds.
"""

from __future__ import annotations

import time

import torch

CUDA_WARMUP_CALLS = 25
# A round lasts at least MIN_ROUND_SECONDS (many iterations for short work), so that a round's
# time is a mean over iterations, as torch.utils.benchmark's blocks are.
MIN_ROUND_SECONDS = 0.002
MAX_SECONDS = {"full": 1.0, "quick": 0.25}  # timed seconds per case, warm-up aside
WARMUP_ITERATIONS = {"full": 20, "quick": 10}


def cuda_synchronized_perf_counter() -> float:
    """time.perf_counter() read after every queued CUDA kernel has finished."""
    torch.cuda.synchronize()
    return time.perf_counter()


def timer_for(device: str):
    return cuda_synchronized_perf_counter if device == "cuda" else time.perf_counter


def timer_name(device: str) -> str:
    return ("torch.cuda.synchronize + time.perf_counter" if device == "cuda"
            else "time.perf_counter (pytest-benchmark calibration)")


def benchmark_options(device: str, group: str, quick: bool) -> dict:
    """Keyword arguments for ``pytest.mark.benchmark`` on one case."""
    mode = "quick" if quick else "full"
    return dict(timer=timer_for(device), group=group, min_time=MIN_ROUND_SECONDS,
                max_time=MAX_SECONDS[mode], min_rounds=5, warmup=True,
                warmup_iterations=WARMUP_ITERATIONS[mode], disable_gc=True)


def pedantic_rounds(seconds_per_call: float, quick: bool) -> tuple[int, int]:
    """(rounds, warm-up rounds) for work that needs a fresh setup per call (the backward phase).

    pytest-benchmark cannot calibrate such work (one call per round), so the round count is
    chosen to fill the same time budget as a calibrated case: between 5 and 2000 rounds.
    """
    budget = MAX_SECONDS["quick" if quick else "full"]
    rounds = int(budget / max(seconds_per_call, 1e-6))
    rounds = max(5, min(2000, rounds))
    return rounds, max(2, rounds // 10)
