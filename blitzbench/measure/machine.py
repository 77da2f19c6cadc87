"""What a run was measured on, added to pytest-benchmark's machine_info."""

from __future__ import annotations

import platform
import subprocess

import torch

from blitzbench import ROOT



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


def suite_commit() -> str:
    """The suite's git commit (short), with "+changes" when its code differs from it; "unknown"
    outside a git checkout. Changes under results/ do not count: a run writes there."""
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)
    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return "unknown"
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results")
        return head.stdout.strip() + ("+changes" if changed.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def release_properties() -> dict[str, str]:
    """What a verification run verified: torch, torchvision, Python, the suite's commit, and the
    intra-op threads torch ran with (recorded in the JUnit XML, read by
    blitzbench.analysis.verification)."""
    info = describe()
    return {"torch": info["torch_version"], "torchvision": str(info["torchvision_version"]),
            "python": platform.python_version(), "cuda": str(info["cuda_version"]),
            "gpu": str(info["gpu_name"] or "none"), "suite_commit": suite_commit(),
            "torch_threads": str(torch.get_num_threads())}
