"""A device's measured matrix-multiply peak per math, the yardstick for "% of peak".

Measured, not looked up: an n x n by n x n product (2 n^3 FLOPs) timed with
torch.utils.benchmark.Timer, using all of torch's threads; the fastest block is the peak.
The timer synchronises the device. One peak per math a case can use:

  float32   full float32 (TF32 off)
  tf32      float32 tensors, TF32 tensor-core math on (CUDA)
  bfloat16, float16   half-precision tensors, as autocast runs matmuls and convolutions (CUDA)

Benchmarks keep torch's defaults, so on CUDA a float32 case's convolutions run in TF32 (cuDNN's
``allow_tf32`` is on by default) while its matmuls stay float32 (``matmul.allow_tf32`` is off).
:func:`case_math` records what a case uses, and its "% of peak" divides by the peak of the
fastest math among them (``peak_math``): an upper bound the case could reach, so the fraction
cannot pass 100% because a faster math was compared with a slower peak.
"""

from __future__ import annotations

import logging

import torch

# torch.utils.benchmark imports cpp_extension, which warns about CUDA_HOME on CPU-only machines.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
import torch.utils.benchmark as tbench  # noqa: E402

SIZES = {"cpu": 1024, "cuda": 8192}
MATHS = ("float32", "tf32", "bfloat16", "float16")


def case_math(case) -> dict:
    """The math ``case`` runs with, as torch's flags stand now: TF32 for matmuls and for
    convolutions (CUDA float32 only), the autocast dtype, and the peak its "% of peak" uses."""
    on_cuda = case.device == "cuda"
    autocast = case.dtype if case.dtype != "float32" else None
    matmul_tf32 = on_cuda and not autocast and bool(torch.backends.cuda.matmul.allow_tf32)
    conv_tf32 = on_cuda and not autocast and bool(torch.backends.cudnn.allow_tf32)
    peak_math = autocast or ("tf32" if matmul_tf32 or conv_tf32 else "float32")
    return {"matmul_tf32": matmul_tf32, "conv_tf32": conv_tf32, "autocast": autocast, "peak_math": peak_math}


def peak_key(device: str, math: str) -> str:
    """Where a peak sits in machine_info["matmul_peak"]: the device for float32 (as before), else
    "device math"."""
    return device if math == "float32" else f"{device} {math}"


def measure_matmul_peak(device: str, math: str = "float32", n: int | None = None, min_run_time: float = 0.5) -> dict:
    if math not in MATHS:
        raise ValueError(f"unknown math {math!r}; accepted: {', '.join(MATHS)}")
    if math != "float32" and torch.device(device).type != "cuda":
        raise ValueError(f"{math} peak: measured on CUDA only; {device} cases run in float32")
    n = n or SIZES.get(torch.device(device).type, 1024)
    dtype = getattr(torch, math) if math in ("bfloat16", "float16") else torch.float32
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = math == "tf32"
    try:
        timer = tbench.Timer("torch.mm(a, b)", globals={"a": a, "b": b, "torch": torch},
                             num_threads=torch.get_num_threads())
        timer.timeit(2)  # warm-up: allocator, cuBLAS handle
        measurement = timer.blocked_autorange(min_run_time=min_run_time)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    fastest = min(measurement.times)
    return {"gflops_per_s": 2 * n ** 3 / fastest / 1e9, "n": n, "math": math, "dtype": str(dtype).removeprefix("torch."),
            "tf32": math == "tf32", "threads": torch.get_num_threads()}
