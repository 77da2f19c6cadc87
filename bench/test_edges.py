"""Inputs where numerical code breaks: the layer and loss checks at the edges.

The other checks draw standard-normal inputs. Here: logits of magnitude 1e2 to 1e4 (where a
naive softmax overflows), all-equal logits, targets at the ignore index, batches of one,
activations of 1e-20 and 1e20, and the whole networks under float16 and bfloat16 autocast
against the float64 reference, with tolerances derived from each dtype's machine epsilon
(blitzbench.measure.tolerances.network_tolerances).

The references stay correct at these edges because they are written in the stable form: the
cross-entropy's log-softmax subtracts each row's maximum before exponentiating
(reference_models.references.losses.log_softmax), so exp never sees a positive argument; the
first tests below hold the references themselves to closed forms.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from blitzbench.measure.batches import class_targets, images, seeded_model
from blitzbench.measure.tolerances import assert_close, eps, network_tolerances, relative_error
from reference_models.references import layers, losses, networks

C = 10


def _value_and_grad(fn, logits, *args, **kwargs):
    leaf = logits.detach().requires_grad_()
    value = fn(leaf, *args, **kwargs)
    value.backward()
    return value.detach(), leaf.grad


# -- the references themselves, against closed forms -------------------------------------------------

@pytest.mark.parametrize("magnitude", [1e2, 1e3, 1e4, 1e300])
def test_reference_log_softmax_is_exact_where_a_naive_one_overflows(magnitude):
    z = torch.tensor([[0.0, magnitude]], dtype=torch.float64)
    # log p = z - log(exp(0) + exp(M)) = [-M - log(1 + e^-M), -log(1 + e^-M)] = [-M, 0] in float64
    assert torch.equal(losses.log_softmax(z), torch.tensor([[-magnitude, 0.0]], dtype=torch.float64))
    naive = z - torch.log(torch.exp(z).sum(dim=1, keepdim=True))
    assert magnitude < 1e3 or not torch.isfinite(naive).all()  # what the stable form avoids


def test_all_equal_logits_give_log_c_and_a_uniform_gradient(device):
    n = 4
    logits = torch.full((n, C), 7.5, dtype=torch.float64, device=device)
    target = torch.tensor([0, 3, 9, 3], device=device)
    expected_grad = (torch.full((n, C), 1 / C, dtype=torch.float64) - F.one_hot(target.cpu(), C)) / n
    reference = losses.cross_entropy(logits, target)
    assert reference.item() == pytest.approx(math.log(C), rel=1e-15)
    assert_close(losses.cross_entropy_backward(logits, target), expected_grad, torch.float64, "reference")
    for dtype in (torch.float64, torch.float32):
        value, grad = _value_and_grad(F.cross_entropy, logits.to(dtype), target)
        assert value.item() == pytest.approx(math.log(C), rel=4 * eps(dtype))
        assert_close(grad, expected_grad, dtype, f"torch {dtype}")


# -- the loss at the edges ----------------------------------------------------------------------------

@pytest.mark.parametrize("magnitude", [1e2, 1e3, 1e4])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("n", [1, 16], ids=["batch1", "batch16"])
def test_cross_entropy_with_huge_logits(magnitude, dtype, n, device):
    g = torch.Generator().manual_seed(int(magnitude))
    logits = (magnitude * torch.randn(n, C, generator=g, dtype=torch.float64)).to(device)
    target = torch.randint(0, C, (n,), generator=g).to(device)
    value, grad = _value_and_grad(F.cross_entropy, logits.to(dtype), target)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    # The loss is of the logits' magnitude; its rounding is relative to that, so rtol applies to it.
    assert_close(value, losses.cross_entropy(logits, target), dtype, "value")
    assert_close(grad, losses.cross_entropy_backward(logits, target), dtype, "gradient")


def test_targets_all_at_the_ignore_index(device):
    logits = torch.randn(4, C, dtype=torch.float64, device=device)
    target = torch.full((4,), -100, device=device)
    # 'sum' is 0 with a zero gradient; 'mean' divides 0 by 0 samples kept: nan, in torch and in the formula
    value, grad = _value_and_grad(F.cross_entropy, logits, target, reduction="sum")
    assert value.item() == 0.0 and torch.count_nonzero(grad) == 0
    assert losses.cross_entropy(logits, target, reduction="sum").item() == 0.0
    assert math.isnan(F.cross_entropy(logits, target).item())
    assert math.isnan(losses.cross_entropy(logits, target).item())


def test_one_sample_kept_out_of_four_is_the_mean_over_one(device):
    logits = torch.randn(4, C, dtype=torch.float64, device=device)
    target = torch.tensor([-100, 2, -100, -100], device=device)
    value, grad = _value_and_grad(F.cross_entropy, logits, target)
    assert value.item() == pytest.approx(-losses.log_softmax(logits)[1, 2].item(), rel=1e-12)
    assert torch.count_nonzero(grad[[0, 2, 3]]) == 0
    assert_close(grad, losses.cross_entropy_backward(logits, target), torch.float64, "gradient")


# -- layers at tiny and huge activations --------------------------------------------------------------

def _layer_cases(scale, device):
    g = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(device)

    x4, w_conv, b_conv = scale * rand(2, 3, 9, 9), rand(4, 3, 3, 3), rand(4)
    x2, w_lin, b_lin = scale * rand(3, 7), rand(5, 7), rand(5)
    return {
        "conv2d": (lambda x, w, b: F.conv2d(x, w, b), layers.conv2d, (x4, w_conv, scale * b_conv)),
        "linear": (F.linear, layers.linear, (x2, w_lin, scale * b_lin)),
        "relu": (F.relu, layers.relu, (x4,)),
        "max_pool2d": (lambda x: F.max_pool2d(x, 2), lambda x: layers.max_pool2d(x, 2), (x4,)),
    }


@pytest.mark.parametrize("scale", [1e-20, 1e20], ids=["tiny", "huge"])
@pytest.mark.parametrize("layer", ["conv2d", "linear", "relu", "max_pool2d"])
def test_layers_keep_their_relative_precision_at_tiny_and_huge_activations(layer, scale, device):
    torch_fn, reference_fn, inputs = _layer_cases(scale, device)[layer]
    expected = reference_fn(*inputs)
    leaves = [t.float().requires_grad_() for t in inputs]
    out = torch_fn(*leaves)
    assert torch.isfinite(out).all() and out.abs().max() > 0
    # judged on the output's own scale: an absolute floor of 1e-5 would pass any 1e-20 result
    assert_close(out, expected, torch.float32, f"{layer} x{scale:g}", relative=True)
    grad_out = torch.ones_like(out)
    out.backward(grad_out)
    reference_leaves = [t.detach().requires_grad_() for t in inputs]
    reference_fn(*reference_leaves).backward(grad_out.double())
    for leaf, ref in zip(leaves, reference_leaves):
        assert_close(leaf.grad, ref.grad, torch.float32, f"d {layer} x{scale:g}", relative=True)


# -- whole networks under autocast, against float64 ---------------------------------------------------

def _autocast_supported(device: str, dtype: torch.dtype) -> str | None:
    try:
        with torch.autocast(device_type=device, dtype=dtype):
            torch.mm(torch.ones(2, 2, device=device), torch.ones(2, 2, device=device))
    except (RuntimeError, AssertionError) as error:
        return f"{device} autocast to {dtype} is not supported by torch {torch.__version__}: {error}"
    return None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
def test_networks_under_autocast_against_the_float64_reference(model_name, device, batch_size, dtype):
    if reason := _autocast_supported(device, dtype):
        pytest.skip(reason)
    reference_net = seeded_model(model_name, "cpu", torch.float64)
    x, target = images(model_name, batch_size, "cpu", torch.float64), class_targets(model_name, batch_size, "cpu")
    ref_logits = networks.logits(model_name, reference_net, x)
    _, ref_grads = networks.loss_and_gradients(model_name, reference_net, x, target)
    net = seeded_model(model_name, device)
    with torch.autocast(device_type=device, dtype=dtype):
        logits = net(x.float().to(device))
        loss = F.cross_entropy(logits, target.to(device))
    loss.backward()
    out_tol, grad_tol = network_tolerances(dtype, batch_size)
    assert logits.dtype == dtype  # autocast really ran the network in the half type
    assert relative_error(logits, ref_logits) <= out_tol
    for name, p in net.named_parameters():
        error = relative_error(p.grad, ref_grads[name])
        assert error <= grad_tol, f"d {name}: {error / eps(dtype):.1f} eps off (accepted {grad_tol / eps(dtype):.0f})"
