"""Benchmarks: forward, inference, backward, optimizer step and the whole training step, per model,
device and batch size (the chapter's sections 6 and 9). Run with ``pytest bench --benchmark-only``.

Each case first checks what it is about to time (Workload.check: output shape, finite loss and
gradients, a step that moves the weights; in a mode other than eager, bench.modes.verify: 3
training steps that match eager's); a wrong computation fails the case and reports no time.
The timing itself is pytest-benchmark's, with the timer and round sizes bench.timing picks per
device: on CUDA, rounds of back-to-back calls (throughput), with one synchronized call's time
kept as ``latency_s`` and the GPU's busy fraction measured after the timed rounds.
"""

import time

import pytest
import torch

from bench import devices, instructions, modes, profiling, timing
from bench.flops import flops_per_sample
from bench.peak import case_math
from bench.workloads import Workload


def _out_of_memory_errors():
    errors = [torch.cuda.OutOfMemoryError] if hasattr(torch.cuda, "OutOfMemoryError") else []
    return tuple(errors) or (RuntimeError,)


def _build_and_check(case):
    """The case's workload, checked, and the start of its memory account (after the mode's
    verification, whose workloads are freed before the case begins)."""
    try:
        modes.start_case(case)
        modes.verify_once(case)
        memory = devices.CaseMemory(case.device)
        workload = Workload(case)
        workload.check()
        workload.prepare()
        memory.reset_peak()  # the check's comparison workloads are gone; the case's own remain
        return workload, memory
    except _out_of_memory_errors() as error:
        if case.device != "cuda" or "out of memory" not in str(error):
            raise
        torch.cuda.empty_cache()
        pytest.skip(f"batch size {case.batch_size} does not fit in {case.device} memory: {str(error).splitlines()[0]}")


def _seconds_per_backward(workload) -> float:
    """One untimed backward, to size the pedantic rounds."""
    args, _ = workload.fresh_graph()
    devices.synchronize(workload.case.device)
    start = time.perf_counter()
    workload.backward(*args)
    devices.synchronize(workload.case.device)
    return time.perf_counter() - start


def _time_on_cuda(benchmark, workload, quick) -> dict:
    """CUDA: rounds of back-to-back calls sized by bench.timing.cuda_round_calls; returns the
    figures measured around them (latency_s, calls per round, device_busy_fraction)."""
    case = workload.case
    backward = case.phase == "backward"
    clock = timing.CUDA_BACKWARD_CLOCK if backward else timing.cuda_synchronized_perf_counter
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
            "launch_bound": None if busy is None else busy < profiling.LAUNCH_BOUND_BELOW}


def _time_on_cpu(benchmark, workload, quick) -> dict:
    if workload.case.phase == "backward":
        rounds, warmup_rounds = timing.pedantic_rounds(_seconds_per_backward(workload), quick)
        benchmark.pedantic(workload.backward, setup=workload.fresh_graph, rounds=rounds,
                           warmup_rounds=warmup_rounds, iterations=1)
    else:
        benchmark(workload.timed)
    return {}


def _count_instructions(counter, workload, quick) -> None:
    """--instructions' counting process (under valgrind): the case's calls counted, not timed;
    the backward phase's fresh graph is built outside the counted region, as in its timing."""
    case = workload.case
    warmup = timing.WARMUP_ITERATIONS["quick" if quick else "full"]
    if case.phase == "backward":
        counter.count_case(case.id, workload.backward, setup=lambda: workload.fresh_graph()[0], warmup_calls=warmup,
                           extra=instructions.cpu_features())
    else:
        counter.count_case(case.id, workload.timed, warmup_calls=warmup, extra=instructions.cpu_features())


def test_throughput(benchmark, bench_case, matmul_peak, quick, profiler, instruction_counter):
    case = bench_case
    math = case_math(case)  # torch's flags as the case runs (benchmarks keep torch's defaults)
    workload, memory = _build_and_check(case)
    if instruction_counter is not None:
        _count_instructions(instruction_counter, workload, quick)
        return
    timed_on = _time_on_cuda if case.device == "cuda" else _time_on_cpu
    measured = timed_on(benchmark, workload, quick)
    measured.update(memory.figures())  # before FLOP counting, which allocates
    flops = flops_per_sample(case)
    info = {
        **case.fields(), "case_id": case.id, "flops_per_sample": flops, "torch_version": torch.__version__,
        "timer": timing.timer_name(case.device, case.phase), "math": math, **measured,
    }
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # timed (not --benchmark-disable)
        median = stats.stats.median
        samples_per_s = case.batch_size / median
        gflops_per_s = flops * samples_per_s / 1e9 if flops else None
        peak = matmul_peak(case.device, math["peak_math"])["gflops_per_s"]
        info.update(samples_per_s=samples_per_s, gflops_per_s=gflops_per_s,
                    peak_fraction=gflops_per_s / peak if gflops_per_s else None,
                    noise_iqr_over_median=stats.stats.iqr / median if median else None)
        if case.device == "cpu":
            info["latency_s"] = median  # on the CPU a call is synchronous: its time is its latency
    traced = profiler(case)  # --profile: a separate, untimed profiler run
    if traced is not None:
        info["trace"] = str(traced.trace)
    benchmark.extra_info.update(info)
