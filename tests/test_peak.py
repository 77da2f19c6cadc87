"""The math a case runs with, and the peak its "% of peak" divides by (blitzbench.measure.peak;
`math` and `peak_fraction` in docs/benchmarks.md)."""

import pytest
import torch

from blitzbench.cases import Case
from blitzbench.measure.peak import case_math, measure_matmul_peak, peak_key


@pytest.fixture
def tf32_flags():
    """set(conv, matmul): the TF32 flags for one test, restored after it."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32

    def set_flags(conv: bool, matmul: bool) -> None:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = conv, matmul

    yield set_flags
    set_flags(*saved)


@pytest.fixture
def torch_defaults(tf32_flags):
    """torch's default flags: cuDNN convolutions may use TF32, cuBLAS matmuls may not."""
    tf32_flags(conv=True, matmul=False)


def test_a_cuda_float32_case_convolves_in_tf32_under_torch_defaults(torch_defaults):
    math = case_math(Case("lenet", "cuda", 64, "train_step"))
    assert math == {"matmul_tf32": False, "conv_tf32": True, "autocast": None, "peak_math": "tf32"}


def test_autocast_cases_divide_by_their_half_precision_peak(torch_defaults):
    math = case_math(Case("lenet", "cuda", 64, "train_step", dtype="bfloat16"))
    assert math["autocast"] == "bfloat16" and math["peak_math"] == "bfloat16" and not math["conv_tf32"]


def test_cpu_cases_are_plain_float32(torch_defaults):
    assert case_math(Case("lenet", "cpu", 64, "forward"))["peak_math"] == "float32"


def test_tf32_off_everywhere_is_plain_float32(tf32_flags):
    tf32_flags(conv=False, matmul=False)
    assert case_math(Case("lenet", "cuda", 64, "forward"))["peak_math"] == "float32"


def test_peaks_are_measured_per_math_and_keyed_by_it():
    peak = measure_matmul_peak("cpu", "float32", n=128, min_run_time=0.05)
    assert peak["math"] == "float32" and peak["gflops_per_s"] > 0
    assert peak_key("cpu", "float32") == "cpu" and peak_key("cuda", "tf32") == "cuda tf32"
    with pytest.raises(ValueError, match="measured on CUDA only"):
        measure_matmul_peak("cpu", "tf32")
    with pytest.raises(ValueError, match="accepted: float32, tf32, bfloat16, float16"):
        measure_matmul_peak("cpu", "float64")
