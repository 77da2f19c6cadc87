"""Devices the suite can run on (the chapter's section 9), and why one cannot be used here."""

from __future__ import annotations

import contextlib

import torch


def unavailable_reason(device: str) -> str | None:
    """None when ``device`` can run here; else the exact reason it cannot."""
    if device == "cpu":
        return None
    if device == "cuda":
        if torch.version.cuda is None:
            return f"CUDA unavailable: this torch build ({torch.__version__}) has no CUDA support"
        if not torch.cuda.is_available():
            return (f"CUDA unavailable: torch {torch.__version__} is built for CUDA {torch.version.cuda}, "
                    "but torch.cuda.is_available() is False (no GPU or driver visible)")
        return None
    return f"unknown device {device!r}"


def synchronize(device: str | torch.device) -> None:
    """Wait for every kernel queued on ``device`` (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def ieee_float32():
    """Full precision on CUDA: no TF32 in cuDNN convolutions or cuBLAS matmuls, and no
    reduced-precision reductions in cuBLAS's bfloat16 and float16 matmuls.

    cuDNN allows TF32 (10-bit mantissa) for float32 convolutions by default, which is far outside
    float32 tolerance, and cuBLAS may sum a bfloat16 or float16 product in that type, while the
    tolerances count one float32 accumulation; verification compares with references, so it turns
    both off.
    """
    matmul = torch.backends.cuda.matmul
    saved = (torch.backends.cudnn.allow_tf32, matmul.allow_tf32, matmul.allow_bf16_reduced_precision_reduction,
             matmul.allow_fp16_reduced_precision_reduction)
    torch.backends.cudnn.allow_tf32 = matmul.allow_tf32 = False
    matmul.allow_bf16_reduced_precision_reduction = matmul.allow_fp16_reduced_precision_reduction = False
    try:
        yield
    finally:
        (torch.backends.cudnn.allow_tf32, matmul.allow_tf32, matmul.allow_bf16_reduced_precision_reduction,
         matmul.allow_fp16_reduced_precision_reduction) = saved


class CaseMemory:
    """A case's own peak of CUDA memory: the allocator's high-water mark during the case minus
    what was already allocated when the case began (other cases' leftovers, the matmul-peak
    measurement's buffers, earlier allocations). cuBLAS and cuDNN workspaces the case itself
    creates do count: the case needs them. Nothing on the CPU, which has no honest per-case figure.
    """

    def __init__(self, device: str):
        self.cuda = torch.device(device).type == "cuda"
        self.at_start = None
        if self.cuda:
            torch.cuda.synchronize()
            self.at_start = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()

    def reset_peak(self) -> None:
        """Forget the high-water mark so far (the checks' throwaway workloads), keeping the
        allocation at the start as the baseline: what the case holds now still counts."""
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def figures(self) -> dict:
        """``peak_memory_bytes`` (the case's own), ``peak_memory_raw_bytes`` (the high-water mark
        since the case began, everything allocated included) and the allocation at the start."""
        if not self.cuda:
            return {"peak_memory_bytes": None, "peak_memory_raw_bytes": None, "memory_at_start_bytes": None}
        raw = torch.cuda.max_memory_allocated()
        return {"peak_memory_bytes": raw - self.at_start, "peak_memory_raw_bytes": raw,
                "memory_at_start_bytes": self.at_start}
