"""A device's measured float32 matrix-multiply peak, the yardstick for "% of peak".

Measured, not looked up: an n x n by n x n float32 product (2 n^3 FLOPs) timed with
torch.utils.benchmark.Timer, using all of torch's threads; the fastest block is the peak.
On CUDA, matmuls run in full float32 unless TF32 is switched on (torch's default is off),
and the timer synchronises the device.
"""

from __future__ import annotations

import logging

import torch

# torch.utils.benchmark imports cpp_extension, which warns about CUDA_HOME on CPU-only machines.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
import torch.utils.benchmark as tbench  # noqa: E402

SIZES = {"cpu": 1024, "cuda": 8192}


def measure_matmul_peak(device: str, n: int | None = None, min_run_time: float = 0.5) -> dict:
    n = n or SIZES.get(torch.device(device).type, 1024)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device)
    b = torch.randn(n, n, generator=g).to(device)
    timer = tbench.Timer("torch.mm(a, b)", globals={"a": a, "b": b, "torch": torch},
                         num_threads=torch.get_num_threads())
    timer.timeit(2)  # warm-up: allocator, cuBLAS handle
    measurement = timer.blocked_autorange(min_run_time=min_run_time)
    fastest = min(measurement.times)
    return {"gflops_per_s": 2 * n ** 3 / fastest / 1e9, "n": n, "dtype": "float32",
            "tf32": bool(torch.backends.cuda.matmul.allow_tf32) if device == "cuda" else False,
            "threads": torch.get_num_threads()}
