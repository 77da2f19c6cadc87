"""How a throughput case is built, checked and measured (bench/test_throughput.py runs them).

:func:`build_and_check` makes a case's workload and checks it before anything is timed (a CUDA
batch that does not fit is skipped with the reason); :func:`time_case` times it with pytest-benchmark's
fixture, on the timer blitzbench.measure.timing.case_timer chose for it (:func:`time_on_cuda`,
:func:`time_on_cpu`);
:func:`count_instructions` counts it instead, in --instructions' counting process.
"""

import time

import pytest
import torch

from blitzbench.figures import LAUNCH_BOUND_BELOW
from blitzbench.measure import checks, devices, instructions, profiling, timing


def out_of_memory_errors():
    errors = [torch.cuda.OutOfMemoryError] if hasattr(torch.cuda, "OutOfMemoryError") else []
    return tuple(errors) or (RuntimeError,)


def build_and_check(case):
    """blitzbench.measure.checks.checked_workload, with a case that does not fit in the GPU's
    memory skipped with the reason."""
    try:
        return checks.checked_workload(case)
    except out_of_memory_errors() as error:
        if case.device != "cuda" or "out of memory" not in str(error):
            raise
        torch.cuda.empty_cache()
        pytest.skip(f"batch size {case.batch_size} does not fit in {case.device} memory: {str(error).splitlines()[0]}")


def seconds_per_backward(workload) -> float:
    """One untimed backward, to size the pedantic rounds."""
    args, _ = workload.fresh_graph()
    devices.synchronize(workload.case.device)
    start = time.perf_counter()
    workload.backward(*args)
    devices.synchronize(workload.case.device)
    return time.perf_counter() - start


def time_case(benchmark, workload, quick, timer) -> dict:
    """Time the case with pytest-benchmark's fixture on ``timer`` (blitzbench.measure.timing.CaseTimer,
    the one its benchmark mark gave pytest-benchmark), as its device is timed; the figures measured
    around the rounds."""
    if workload.case.device == "cuda":
        return time_on_cuda(benchmark, workload, quick, timer.clock)
    return time_on_cpu(benchmark, workload, quick)


def time_on_cuda(benchmark, workload, quick, clock) -> dict:
    """CUDA: rounds of back-to-back calls sized by blitzbench.measure.timing.cuda_round_calls; returns the
    figures measured around them (latency_s, calls per round, device_busy_fraction). ``clock``: the
    case's timer (blitzbench.measure.timing.case_timer), the one its benchmark mark gave pytest-benchmark,
    so that a backward call's events are the ones the rounds are read from."""
    case = workload.case
    backward = case.phase == "backward"
    call = timing.event_timed_backward(workload, clock) if backward else workload.timed
    for _ in range(timing.CUDA_WARMUP_CALLS):
        call()
    clock()  # synchronizes (and settles the event clock's spans)
    if benchmark.disabled:  # make test: one call, checked, nothing timed
        benchmark.pedantic(call)
        return {}
    per_call = timing.seconds_per_call(call, clock)
    if backward:
        latency = timing.latency_seconds(workload.backward, timing.cuda_synchronized_perf_counter,
                                         setup=lambda: workload.fresh_graph()[0])
    else:
        latency = timing.latency_seconds(call, clock)
    calls = timing.cuda_round_calls(per_call, latency)
    rounds, warmup_rounds = timing.cuda_rounds(per_call * calls, quick)
    benchmark.pedantic(call, rounds=rounds, iterations=calls, warmup_rounds=warmup_rounds)
    busy = profiling.measure_device_busy_fraction(call, min(calls, profiling.BUSY_WINDOW_CALLS))
    clock()
    return {"latency_s": latency, "calls_per_round": calls, "device_busy_fraction": busy,
            "launch_bound": None if busy is None else busy < LAUNCH_BOUND_BELOW}


def time_on_cpu(benchmark, workload, quick) -> dict:
    if workload.case.phase == "backward":
        rounds, warmup_rounds = timing.pedantic_rounds(seconds_per_backward(workload), quick)
        benchmark.pedantic(workload.backward, setup=workload.fresh_graph, rounds=rounds,
                           warmup_rounds=warmup_rounds, iterations=1)
    else:
        benchmark(workload.timed)
    return {}


def count_instructions(counter, workload, quick) -> None:
    """--instructions' counting process (under valgrind): the case's calls counted, not timed;
    the backward phase's fresh graph is built outside the counted region, as in its timing."""
    case = workload.case
    warmup = timing.WARMUP_ITERATIONS["quick" if quick else "full"]
    if case.phase == "backward":
        counter.count_case(case.id, workload.backward, setup=lambda: workload.fresh_graph()[0], warmup_calls=warmup,
                           extra=instructions.cpu_features())
    else:
        counter.count_case(case.id, workload.timed, warmup_calls=warmup, extra=instructions.cpu_features())
