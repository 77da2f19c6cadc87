"""The tolerances themselves (blitzbench.measure.tolerances: bounds from each dtype's machine epsilon):
a check at the edges must be able to fail."""

import pytest
import torch

from blitzbench.measure.tolerances import assert_close, eps, network_tolerances, relative_error


def test_tiny_values_are_judged_on_their_own_scale():
    expected = torch.tensor([1e-20, 2e-20], dtype=torch.float64)
    wrong = expected * 1.1  # 10% off
    assert_close(wrong, expected, torch.float32)  # the absolute floor of 1e-5 cannot see it...
    with pytest.raises(AssertionError):
        assert_close(wrong, expected, torch.float32, relative=True)  # ...its own scale can
    assert_close(expected.float(), expected, torch.float32, relative=True)


def test_network_tolerances_come_from_the_dtype_epsilon():
    assert network_tolerances("bfloat16", 64) == (16 * 2 ** -7, 32 * 2 ** -7)
    assert network_tolerances(torch.float16, 1) == (16 * 2 ** -10, 128 * 2 ** -10)
    out, grads = network_tolerances("float32", 16384)
    assert out == 16 * eps(torch.float32) and grads == pytest.approx(8 * 128 * eps(torch.float32))
    assert network_tolerances("float32", 4)[1] == 64 * eps(torch.float32)


def test_relative_error_is_a_norm_ratio():
    assert relative_error(torch.tensor([3.0, 4.0]), torch.tensor([3.0, 4.0])) == 0
    assert relative_error(torch.tensor([3.0, 4.5]), torch.tensor([3.0, 4.0])) == pytest.approx(0.1)
