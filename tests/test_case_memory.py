"""A case's own CUDA memory peak, not the process's (blitzbench.measure.devices.CaseMemory;
`peak_memory_bytes` in docs/benchmarks.md)."""

import pytest
import torch

from blitzbench.measure.devices import CaseMemory, unavailable_reason


def test_the_case_peak_leaves_out_what_was_allocated_before_it(monkeypatch):
    # On the CPU, with the allocator's counters played by the test: 35 MB held before the case
    # (earlier cases' leftovers, far more than a 0.3 MB model at batch 4 needs), 35.3 MB at the
    # case's peak: the case's own peak is the difference, 0.3 MB.
    held = {"now": 35_000_000, "peak": 36_000_000}
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: None)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda *a: held["now"])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda *a: held.update(peak=held["now"]))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *a: held["peak"])
    memory = CaseMemory("cuda")
    held["peak"] = 35_300_000
    assert memory.figures() == {"peak_memory_bytes": 300_000, "peak_memory_raw_bytes": 35_300_000,
                                "memory_at_start_bytes": 35_000_000}


def test_the_cpu_reports_no_peak():
    assert set(CaseMemory("cpu").figures().values()) == {None}


@pytest.mark.cuda
@pytest.mark.skipif(unavailable_reason("cuda") is not None, reason=str(unavailable_reason("cuda")))
def test_on_cuda_the_case_peak_is_what_the_case_allocated():
    before = torch.empty(64 << 20, dtype=torch.uint8, device="cuda")  # 64 MiB held by "earlier cases"
    memory = CaseMemory("cuda")
    during = torch.empty(1 << 20, dtype=torch.uint8, device="cuda")  # the case: 1 MiB
    figures = memory.figures()
    assert figures["peak_memory_bytes"] == 1 << 20
    assert figures["peak_memory_raw_bytes"] >= (64 << 20) + (1 << 20)
    del before, during
