"""Benchmarks: forward, inference, backward, optimizer step and the whole training step, per model,
device and batch size (the chapter's sections 6 and 9). Run with ``pytest bench --benchmark-only``.

Each case first checks what it is about to time (blitzbench.measure.checks: output shape, finite loss and
gradients, a step that moves the weights; in a mode other than eager, blitzbench.measure.mode_check.verify: 3
training steps that match eager's); a wrong computation fails the case and reports no time.
The timing itself is pytest-benchmark's, with the timer (``case_timer``, chosen once per case) and round
sizes blitzbench.measure.timing picks per device: on CUDA, rounds of back-to-back calls (throughput),
with one synchronized call's time kept as ``latency_s`` and the GPU's busy fraction measured after
the timed rounds.
"""

import torch

from blitzbench.figures import STEP_HAS_NO_FLOPS, iqr_over_median, per_second
from blitzbench.measure import case_timing
from blitzbench.measure.flops import flops_per_sample
from blitzbench.measure.peak import case_math


def test_throughput(benchmark, bench_case, case_timer, matmul_peak, quick, profiler, instruction_counter):
    case = bench_case
    math = case_math(case)  # torch's flags as the case runs (benchmarks keep torch's defaults)
    workload, memory = case_timing.build_and_check(case)
    if instruction_counter is not None:
        case_timing.count_instructions(instruction_counter, workload, quick)
        return
    measured = case_timing.time_case(benchmark, workload, quick, case_timer)
    measured.update(memory.figures())  # before FLOP counting, which allocates
    flops = flops_per_sample(case)
    info = {
        "kind": case.kind, **case.fields(), "case_id": case.id, "flops_per_sample": flops,
        "torch_version": torch.__version__, "timer": case_timer.name, "math": math, **measured,
    }
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # timed (not --benchmark-disable)
        median = stats.stats.median
        samples_per_s = per_second(case.batch_size, median)
        gflops_per_s = flops * samples_per_s / 1e9 if flops else None
        peak = matmul_peak(case.device, math["peak_math"])["gflops_per_s"]
        info.update(samples_per_s=samples_per_s, gflops_per_s=gflops_per_s,
                    peak_fraction=gflops_per_s / peak if gflops_per_s else None,
                    noise_iqr_over_median=iqr_over_median(stats.stats.iqr, median))
        if not flops:
            info["flops_missing"] = (STEP_HAS_NO_FLOPS if case.phase == "step"
                                     else "FlopCounterMode counted no FLOPs for this phase")
        if case.device == "cpu":
            info["latency_s"] = median  # on the CPU a call is synchronous: its time is its latency
    traced = profiler(case)  # --profile: a separate, untimed profiler run
    if traced is not None:
        info["trace"] = str(traced.trace)
    benchmark.extra_info.update(info)
