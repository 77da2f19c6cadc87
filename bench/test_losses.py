"""nn.MSELoss and nn.CrossEntropyLoss (the chapter's section 4) against their formulas, values and
gradients, for each reduction, class weights, label smoothing and ignore_index."""

import pytest
import torch
from torch import nn

from blitzbench.measure.tolerances import assert_close
from reference_models.references import losses

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [pytest.param(torch.float64, id="float64"), pytest.param(torch.float32, id="float32")]
N, C = 16, 10


def _inputs(device, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(N, C, generator=g, dtype=torch.float64)).to(device=device, dtype=dtype)
    classes = torch.randint(0, C, (N,), generator=g).to(device)
    probs = torch.softmax(torch.randn(N, C, generator=g, dtype=torch.float64), dim=1).to(device=device, dtype=dtype)
    weight = (0.5 + torch.rand(C, generator=g, dtype=torch.float64)).to(device=device, dtype=dtype)
    regression = torch.randn(N, C, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    return logits, classes, probs, weight, regression


def _value_and_grad(criterion, x, target):
    x = x.detach().requires_grad_()
    value = criterion(x, target)
    if value.dim() == 0:
        value.backward()
    return value.detach(), x.grad


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_mse(reduction, dtype, device):
    x, _, _, _, target = _inputs(device, dtype)
    value, grad = _value_and_grad(nn.MSELoss(reduction=reduction), x, target)
    assert_close(value, losses.mse(x.double(), target.double(), reduction), dtype, "value")
    if reduction != "none":
        assert_close(grad, losses.mse_backward(x.double(), target.double(), reduction), dtype, "gradient")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1], ids=["ls0", "ls0.1"])
@pytest.mark.parametrize("ignore", [False, True], ids=["all_kept", "ignore_index"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_with_class_indices(reduction, weighted, label_smoothing, ignore, dtype, device):
    logits, target, _, weight, _ = _inputs(device, dtype)
    options = {"weight": weight if weighted else None, "reduction": reduction, "label_smoothing": label_smoothing}
    if ignore:
        options["ignore_index"] = 3
        target = target.clone()
        target[::4] = 3  # a quarter of the samples, at least, drop out of the loss
    value, grad = _value_and_grad(nn.CrossEntropyLoss(**options), logits, target)
    ref_options = dict(options, weight=weight.double() if weighted else None)
    assert_close(value, losses.cross_entropy(logits.double(), target, **ref_options), dtype, "value")
    if reduction != "none":
        assert_close(grad, losses.cross_entropy_backward(logits.double(), target, **ref_options), dtype, "gradient")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1], ids=["ls0", "ls0.1"])
def test_cross_entropy_with_class_probabilities(reduction, weighted, label_smoothing, device):
    logits, _, probs, weight, _ = _inputs(device, torch.float64)
    options = {"weight": weight if weighted else None, "reduction": reduction, "label_smoothing": label_smoothing}
    value, grad = _value_and_grad(nn.CrossEntropyLoss(**options), logits, probs)
    assert_close(value, losses.cross_entropy(logits, probs, **options), msg="value")
    if reduction != "none":
        assert_close(grad, losses.cross_entropy_backward(logits, probs, **options), msg="gradient")


def test_cross_entropy_reference_is_minus_log_softmax_at_the_target():
    # Hand-computable case: two classes, logits (0, log 3): p = (1/4, 3/4).
    logits = torch.tensor([[0.0, torch.log(torch.tensor(3.0)).item()]], dtype=torch.float64)
    assert losses.cross_entropy(logits, torch.tensor([1])).item() == pytest.approx(-torch.log(torch.tensor(0.75)).item())
    assert losses.cross_entropy(logits, torch.tensor([0])).item() == pytest.approx(torch.log(torch.tensor(4.0)).item())
