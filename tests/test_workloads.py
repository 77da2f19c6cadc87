"""Benchmark workloads check what they are about to time, and fail when it is wrong."""

import math

import pytest
import torch

from blitzbench.cases import PHASES, Case
from blitzbench.measure.checks import check_workload
from blitzbench.measure.workloads import Workload


@pytest.mark.parametrize("phase", PHASES)
def test_check_passes_on_the_real_computation(phase):
    check_workload(Workload(Case("chapter_net", "cpu", 4, phase)))


@pytest.mark.parametrize("phase", ["forward", "inference"])
def test_check_fails_on_a_wrong_output_shape(phase):
    w = Workload(Case("chapter_net", "cpu", 4, phase))
    w.forward_fn = lambda x: torch.zeros(4, 9)
    with pytest.raises(AssertionError, match="output shape"):
        check_workload(w)


@pytest.mark.parametrize("phase", ["forward", "backward", "train_step"])
def test_check_fails_on_non_finite_values(phase):
    w = Workload(Case("chapter_net", "cpu", 4, phase))
    with torch.no_grad():
        w.net.fc3.bias[0] = math.nan
    with pytest.raises(AssertionError, match="non-finite|loss is nan"):
        check_workload(w)


def test_check_fails_when_the_step_moves_nothing():
    w = Workload(Case("chapter_net", "cpu", 4, "step"))
    w.optimizer.param_groups[0]["lr"] = 0.0
    with pytest.raises(AssertionError, match="unchanged"):
        check_workload(w)


def test_inference_records_no_graph_and_forward_does():
    assert not Workload(Case("lenet", "cpu", 2, "inference")).inference().requires_grad
    assert Workload(Case("lenet", "cpu", 2, "forward")).forward().requires_grad


def test_backward_setup_builds_a_fresh_graph_each_time():
    w = Workload(Case("chapter_net", "cpu", 2, "backward"))
    (first,), _ = w.fresh_graph()
    w.backward(first)
    (second,), _ = w.fresh_graph()
    assert second.grad_fn is not first.grad_fn
    w.backward(second)  # would raise if the graph were the freed first one


def test_case_ids_name_only_non_default_axes():
    assert Case("lenet", "cpu", 64, "train_step").id == "lenet-cpu-bs64-train_step"
    assert Case("lenet", "cuda", 8, "forward", "bfloat16", "channels_last", "compiled").id == \
        "lenet-cuda-bs8-forward-bfloat16-channels_last-compiled"
    assert Case("lenet", "cpu", 8, "forward", "float16").unsupported_reason()
    assert Case("lenet", "cuda", 8, "forward", "float16").unsupported_reason() is None


def test_a_cuda_batch_that_does_not_fit_is_skipped_with_the_reason(monkeypatch):
    from blitzbench.measure import case_timing, checks

    def out_of_memory(case):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 96.00 GiB\nmore detail")

    monkeypatch.setattr(checks, "Workload", out_of_memory)
    monkeypatch.setattr(checks.devices, "CaseMemory", lambda device: None)  # no CUDA allocator here
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    with pytest.raises(pytest.skip.Exception, match="batch size 1024 does not fit in cuda memory: CUDA out of memory"):
        case_timing.build_and_check(Case("cifar_net", "cuda", 1024, "train_step"))


def test_out_of_memory_on_the_cpu_is_an_error_not_a_skip(monkeypatch):
    from blitzbench.measure import case_timing, checks

    def out_of_memory(case):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(checks, "Workload", out_of_memory)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        case_timing.build_and_check(Case("cifar_net", "cpu", 1024, "train_step"))


def test_chapter_net_cannot_run_channels_last_which_is_why_those_cases_are_skipped():
    case = Case("chapter_net", "cpu", 4, "forward", memory_format="channels_last")
    assert "x.view" in case.unsupported_reason()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        Workload(case).forward()
    check_workload(Workload(Case("lenet", "cpu", 4, "forward", memory_format="channels_last")))


@pytest.mark.parametrize("phase", PHASES)
def test_a_non_default_configuration_is_compared_with_eager_float32(phase):
    """channels_last computes what contiguous computes (eager float32 contiguous is the baseline every
    configuration is checked against, docs/benchmarks.md), and check_workload says so."""
    w = Workload(Case("lenet", "cpu", 8, phase, memory_format="channels_last"))
    check_workload(w)


def test_a_configuration_that_computes_something_else_fails_its_check(monkeypatch):
    from blitzbench.testing import compile_wrongly

    compile_wrongly(monkeypatch)  # compiled outputs 1% too large
    for phase, says in (("forward", "output off by"), ("train_step", "loss off by")):
        with pytest.raises(AssertionError, match=f"lenet-cpu-bs8-{phase}-compiled against eager float32 contiguous: {says}"):
            check_workload(Workload(Case("lenet", "cpu", 8, phase, mode="compiled")))
