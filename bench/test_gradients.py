"""Gradient flow (the chapter's section 5): after one backward every parameter has a finite,
non-zero gradient equal to the reference backprop; the custom autograd.Function passes gradcheck."""

import pytest
import torch
import torch.nn.functional as F

from blitzbench.measure.batches import class_targets, images, regression_targets, seeded_model
from blitzbench.measure.tolerances import assert_close
from reference_models.models import LinearFunction
from reference_models.references import networks

DTYPES = [pytest.param(torch.float64, id="float64"), pytest.param(torch.float32, id="float32")]
LOSSES = {"cross_entropy": F.cross_entropy, "mse": F.mse_loss}


def _targets(loss, model_name, batch_size, device, dtype):
    if loss == "mse":
        return regression_targets(model_name, batch_size, device, dtype)
    return class_targets(model_name, batch_size, device)


def test_every_parameter_gets_a_finite_nonzero_gradient(model_name, device, batch_size):
    net = seeded_model(model_name, device)
    F.cross_entropy(net(images(model_name, batch_size, device)), class_targets(model_name, batch_size, device)).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, f"{name} has no gradient"
        assert p.grad.shape == p.shape, name
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{name}'s gradient is all zeros"


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_equal_reference_backprop(model_name, device, batch_size, dtype, loss):
    net = seeded_model(model_name, device, dtype)
    x = images(model_name, batch_size, device, dtype).requires_grad_()
    target = _targets(loss, model_name, batch_size, device, dtype)
    value = LOSSES[loss](net(x), target)
    value.backward()

    reference_net = seeded_model(model_name, device, dtype).double()  # same weights, in float64
    ref_target = target.double() if loss == "mse" else target
    ref_value, ref_grads = networks.loss_and_gradients(model_name, reference_net, x.detach().double(), ref_target, loss)
    assert_close(value, ref_value, dtype, "loss")
    for name, p in net.named_parameters():
        assert_close(p.grad, ref_grads[name], dtype, name)
    assert_close(x.grad, ref_grads["input"], dtype, "input")


def test_custom_linear_function_passes_gradcheck(device):
    g = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(*shape, generator=g, dtype=torch.float64).to(device).requires_grad_()
               for shape in [(5, 7), (3, 7), (3,)])
    assert torch.autograd.gradcheck(LinearFunction.apply, (x, w, b))
    assert torch.autograd.gradcheck(LinearFunction.apply, (x, w, None))


def test_custom_linear_model_variant_matches_the_standard_one(model_name, device, batch_size):
    # The variant swaps nn.Linear for ParameterLinear (explicit nn.Parameters, hand-written
    # backward); with the standard model's weights loaded it must compute the same thing.
    standard = seeded_model(model_name, device, torch.float64)
    custom = seeded_model(model_name, device, torch.float64, linear="custom")
    custom.load_state_dict(standard.state_dict())
    assert type(custom.fc1).__name__ == "ParameterLinear"
    assert [n for n, _ in custom.named_parameters()] == [n for n, _ in standard.named_parameters()]

    x = images(model_name, batch_size, device, torch.float64)
    target = class_targets(model_name, batch_size, device)
    out = custom(x)
    assert type(out.grad_fn).__name__.startswith("LinearFunction")
    F.cross_entropy(out, target).backward()
    F.cross_entropy(standard(x), target).backward()
    _, ref_grads = networks.loss_and_gradients(model_name, standard, x, target)
    for (name, p), (_, q) in zip(custom.named_parameters(), standard.named_parameters()):
        assert_close(p.grad, q.grad, msg=name)
        assert_close(p.grad, ref_grads[name], msg=name)
