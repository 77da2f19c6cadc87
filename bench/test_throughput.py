"""Benchmarks: forward, inference, backward, optimizer step and the whole training step, per model,
device and batch size (the chapter's sections 6 and 9). Run with ``pytest bench --benchmark-only``.

Each case first checks what it is about to time (Workload.check: output shape, finite loss and
gradients, a step that moves the weights); a wrong computation fails the case and reports no
time. The timing itself is pytest-benchmark's, with the timer bench.timing picks per device.
"""

import time

import pytest
import torch

from bench import devices, timing
from bench.flops import flops_per_sample
from bench.workloads import Workload


def _out_of_memory_errors():
    errors = [torch.cuda.OutOfMemoryError] if hasattr(torch.cuda, "OutOfMemoryError") else []
    return tuple(errors) or (RuntimeError,)


def _build_and_check(case):
    try:
        workload = Workload(case)
        workload.check()
        workload.prepare()
        return workload
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


def test_throughput(benchmark, bench_case, matmul_peak, quick, profiler):
    case = bench_case
    workload = _build_and_check(case)
    if case.device == "cuda":
        for _ in range(timing.CUDA_WARMUP_CALLS):
            if case.phase == "backward":
                args, _ = workload.fresh_graph()
                workload.backward(*args)
            else:
                workload.timed()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    if case.phase == "backward":
        rounds, warmup_rounds = timing.pedantic_rounds(_seconds_per_backward(workload), quick)
        benchmark.pedantic(workload.backward, setup=workload.fresh_graph, rounds=rounds,
                           warmup_rounds=warmup_rounds, iterations=1)
    else:
        benchmark(workload.timed)

    peak_memory = torch.cuda.max_memory_allocated() if case.device == "cuda" else None  # before FLOP counting
    flops = flops_per_sample(case)
    info = {
        **case.fields(), "case_id": case.id, "flops_per_sample": flops, "torch_version": torch.__version__,
        "timer": timing.timer_name(case.device),
        # CPU: no per-case peak that can be measured honestly (the allocator keeps no high-water
        # mark, and the process's RSS peak spans the whole session), so none is reported.
        "peak_memory_bytes": peak_memory,
    }
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # timed (not --benchmark-disable)
        median = stats.stats.median
        samples_per_s = case.batch_size / median
        gflops_per_s = flops * samples_per_s / 1e9 if flops else None
        peak = matmul_peak(case.device)["gflops_per_s"]
        info.update(samples_per_s=samples_per_s, gflops_per_s=gflops_per_s,
                    peak_fraction=gflops_per_s / peak if gflops_per_s else None,
                    noise_iqr_over_median=stats.stats.iqr / median if median else None)
    traced = profiler(case)  # --profile: a separate, untimed profiler run
    if traced is not None:
        info["trace"] = str(traced.trace)
    benchmark.extra_info.update(info)
