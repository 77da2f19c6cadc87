"""The suite's command-line options and shared fixtures.

Options (see ``pytest --help``, section "blitzbench"):
  --device        comma list of devices to run on (cpu, cuda); default: both. CUDA cases are
                  skipped with the reason where CUDA is unavailable.
  --batch-sizes   comma list of positive integers; default for verification cases: 1,4,64.

Cases that take the fixtures ``model_name``, ``device`` and ``batch_size`` are parametrized over
them here, in that order, so their ids read like ``chapter_net-cpu-bs4``.
"""

from __future__ import annotations

import pytest

from bench import devices, options
from reference_models import MODELS


def pytest_addoption(parser):
    group = parser.getgroup("blitzbench", "blitzbench: PyTorch fundamentals verification and benchmarks")
    group.addoption("--device", default=",".join(options.KNOWN_DEVICES), metavar="LIST",
                    help="comma-separated devices to run on, from: cpu, cuda (default: cpu,cuda; "
                         "CUDA cases are skipped with the reason where CUDA is unavailable)")
    group.addoption("--batch-sizes", default=None, metavar="LIST",
                    help="comma-separated positive batch sizes (default for verification cases: "
                         + ",".join(map(str, options.VERIFICATION_BATCH_SIZES)) + ")")


def pytest_configure(config):
    try:
        config.blitz_devices = options.parse_devices(config.getoption("--device"))
        text = config.getoption("--batch-sizes")
        config.blitz_batch_sizes = options.parse_batch_sizes(text) if text is not None else None
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def device_param(device: str):
    """``device`` as a pytest parameter, skipped with the exact reason where it cannot run."""
    marks = [pytest.mark.cuda] if device == "cuda" else []
    reason = devices.unavailable_reason(device)
    if reason:
        marks.append(pytest.mark.skip(reason=reason))
    return pytest.param(device, marks=marks, id=device)


def pytest_generate_tests(metafunc):
    config = metafunc.config
    if "model_name" in metafunc.fixturenames:
        metafunc.parametrize("model_name", list(MODELS), ids=list(MODELS))
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", [device_param(d) for d in config.blitz_devices])
    if "accelerator" in metafunc.fixturenames:
        # Cases that compare an accelerator with the CPU.
        accelerators = [d for d in config.blitz_devices if d != "cpu"]
        params = [device_param(d) for d in accelerators] or [
            pytest.param("cuda", id="cuda", marks=pytest.mark.skip(reason="--device selects no accelerator (only cpu)"))]
        metafunc.parametrize("accelerator", params)
    if "batch_size" in metafunc.fixturenames:
        sizes = config.blitz_batch_sizes or options.VERIFICATION_BATCH_SIZES
        metafunc.parametrize("batch_size", sizes, ids=[f"bs{n}" for n in sizes])


@pytest.fixture(autouse=True)
def _ieee_float32_for_verification(request):
    """Verification compares float32 with references: TF32 off. Benchmarks keep torch's defaults."""
    if "benchmark" in request.fixturenames:
        yield
        return
    with devices.ieee_float32():
        yield
