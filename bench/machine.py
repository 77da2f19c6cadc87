"""What a run was measured on, added to pytest-benchmark's machine_info."""

from __future__ import annotations

import platform

import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(peaks: dict | None = None) -> dict:
    try:
        import torchvision
        torchvision_version = torchvision.__version__
    except Exception as error:  # torchvision missing or broken: say so, keep the run
        torchvision_version = f"unavailable ({type(error).__name__})"
    cuda = torch.cuda.is_available()
    return {
        "torch_version": torch.__version__,
        "torchvision_version": torchvision_version,
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version() if cuda else None,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "gpu_name": torch.cuda.get_device_name(0) if cuda else None,
        "cpu_model": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "matmul_peak": dict(peaks or {}),
    }
