"""What the chapter's section 5 relies on when it calls ``net.zero_grad()`` before backprop, and
section 1's building blocks (``nn.Parameter``, ``autograd.Function``) in every floating dtype.

- backward() accumulates into ``.grad`` (the autograd documentation: "the gradient is
  accumulated"): two backward passes of one loss give twice its gradient, of two losses the sum
  of their gradients, exactly (one rounded addition per element, the same one the reference does;
  doubling is exact in binary floating point);
- ``zero_grad(set_to_none=True)`` (the default since torch 2.0) leaves ``.grad`` None and
  ``set_to_none=False`` leaves zeros, on an ``nn.Module`` and on an optimizer; after either, a
  backward gives the single pass's gradient again, which is why the loop calls it;
- a backward frees the graph's saved tensors: a second backward through it raises RuntimeError
  unless the first passed ``retain_graph=True``;
- ``LinearFunction`` (reference_models.models.custom_linear) computes y = x W^T + b and, in its
  hand-written backward, dx = g W, dW = g^T x, db = sum_n g_n: checked against those formulas
  evaluated in float64 from the same (rounded) inputs, in float64, float32, bfloat16 and float16;
- an ``nn.Parameter`` keeps its dtype, requires grad, is a leaf, and gets a ``.grad`` of its own
  dtype and shape.

Tolerance of the Function's results (a bound, not a measured margin). Every element is a sum of
n products (n = in_features for y, out_features for dx, the number of rows for dW, and n - 1
additions for db; the bias adds one more term to y). Computed with unit roundoff u = eps/2 of
the dtype in any order of summation, such a sum is within gamma_n * sum_i |a_i b_i| of the exact
one, gamma_n = n u / (1 - n u) (Higham, Accuracy and Stability of Numerical Algorithms, 3.1);
kernels that accumulate a reduced type in float32 and round once do better. The float64
reference errs by at most the same bound with float64's u, so the difference is at most
2 gamma_{n+1} sum_i |a_i b_i| per element, with the magnitudes |a| |b| summed in float64.
"""

import contextlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from blitzbench.measure.batches import class_targets, images, regression_targets, seeded_model
from blitzbench.measure.tolerances import eps
from blitzbench.variants import FLOATS
from reference_models.models import LinearFunction, ParameterLinear

# The chapter's net in the dtypes the accumulation checks run it in (its convolutions in the
# reduced types are covered by the layer checks; accumulation is one addition in any dtype).
NET_DTYPES = {"float64": torch.float64, "float32": torch.float32}
# Inputs of LinearFunction: a batch of rows, and rows under two leading dimensions (the
# backward flattens them). 19 input and 11 output features: a full vector block and a tail.
IN_FEATURES, OUT_FEATURES = 19, 11
INPUT_SHAPES = {"2d": (5, IN_FEATURES), "3d": (2, 3, IN_FEATURES)}
BIASES = {"bias": True, "no_bias": False}
ZERO_GRAD_OWNERS = ["module", "optimizer"]
# set_to_none as passed to zero_grad; "default" passes nothing (True since torch 2.0).
SET_TO_NONE = {"set_to_none": True, "zeros": False, "default": None}


@contextlib.contextmanager
def deterministic(device):
    """cuDNN's deterministic algorithms on CUDA, so that one backward repeated gives the same bits
    (the checks of accumulation compare exactly); nothing to do on the CPU."""
    if torch.device(device).type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def _gradients(net):
    return {name: p.grad.detach().clone() for name, p in net.named_parameters()}


def _cross_entropy_loss(net, device, dtype, seed=0):
    x = images("chapter_net", 2, device, dtype, seed=seed)
    return F.cross_entropy(net(x), class_targets("chapter_net", 2, device, seed=seed))


def _mse_loss(net, device, dtype, seed=1):
    x = images("chapter_net", 2, device, dtype, seed=seed)
    return F.mse_loss(net(x), regression_targets("chapter_net", 2, device, dtype, seed=seed))


# -- backward accumulates ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", list(NET_DTYPES.values()), ids=list(NET_DTYPES))
def test_two_backward_passes_of_one_loss_give_twice_its_gradient(dtype, device):
    net = seeded_model("chapter_net", device, dtype)
    with deterministic(device):
        loss = _cross_entropy_loss(net, device, dtype)
        loss.backward(retain_graph=True)  # the graph is kept for the second pass
        once = _gradients(net)
        loss.backward()
    for name, p in net.named_parameters():
        assert once[name].abs().sum() > 0, f"{name}: the first pass gave a zero gradient"
        assert torch.equal(p.grad, 2 * once[name]), f"{name}: the second pass did not add its gradient"


@pytest.mark.parametrize("dtype", list(NET_DTYPES.values()), ids=list(NET_DTYPES))
def test_backward_of_two_losses_gives_the_sum_of_their_gradients(dtype, device):
    with deterministic(device):
        separate = seeded_model("chapter_net", device, dtype)
        _cross_entropy_loss(separate, device, dtype).backward()
        first = _gradients(separate)
        separate.zero_grad()
        _mse_loss(separate, device, dtype).backward()
        second = _gradients(separate)

        together = seeded_model("chapter_net", device, dtype)
        _cross_entropy_loss(together, device, dtype).backward()
        _mse_loss(together, device, dtype).backward()
    for name, p in together.named_parameters():
        assert not torch.equal(first[name], second[name]), f"{name}: the two losses' gradients are one"
        # One addition per element, the same one on both sides: equal to the last bit.
        assert torch.equal(p.grad, first[name] + second[name]), f"{name}: not the sum of the two gradients"


# -- zero_grad ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("set_to_none", list(SET_TO_NONE.values()), ids=list(SET_TO_NONE))
@pytest.mark.parametrize("owner", ZERO_GRAD_OWNERS)
def test_zero_grad_clears_what_backward_accumulated(owner, set_to_none, device):
    net = seeded_model("chapter_net", device, torch.float64)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    clear = net.zero_grad if owner == "module" else optimizer.zero_grad
    kwargs = {} if set_to_none is None else {"set_to_none": set_to_none}
    with deterministic(device):
        _cross_entropy_loss(net, device, torch.float64).backward()
        single = _gradients(net)
        clear(**kwargs)
        for name, p in net.named_parameters():
            if set_to_none is False:
                assert p.grad is not None, f"{name}: set_to_none=False removed the gradient"
                assert p.grad.dtype == p.dtype and p.grad.shape == p.shape, name
                assert torch.equal(p.grad, torch.zeros_like(p)), f"{name}: not all zeros"
            else:
                assert p.grad is None, f"{name}: zero_grad({kwargs}) left a gradient"
        # Why the loop calls zero_grad: the next backward gives one pass's gradient, not two.
        _cross_entropy_loss(net, device, torch.float64).backward()
    for name, p in net.named_parameters():
        assert torch.equal(p.grad, single[name]), f"{name}: the old gradient was not cleared"


# -- retain_graph ---------------------------------------------------------------------------------------

def test_a_second_backward_needs_retain_graph(device):
    net = seeded_model("chapter_net", device, torch.float64)
    retained = _cross_entropy_loss(net, device, torch.float64)
    retained.backward(retain_graph=True)
    retained.backward()  # allowed: the first pass kept the graph's saved tensors

    freed = _cross_entropy_loss(net, device, torch.float64)
    freed.backward()
    with pytest.raises(RuntimeError):  # the saved tensors are gone
        freed.backward()


# -- the custom autograd.Function, per dtype ---------------------------------------------------------

def _bound(dtype, terms: int, magnitudes: torch.Tensor) -> torch.Tensor:
    """2 gamma_{terms+1} times the summed magnitudes (module docstring)."""
    u = eps(dtype) / 2
    n = terms + 1
    return 2 * n * u / (1 - n * u) * magnitudes


def _within(actual, expected, tolerance, what):
    error = (actual.detach().double().cpu() - expected).abs()
    worst = (error - tolerance).argmax()
    assert (error <= tolerance).all(), (
        f"{what}: {int((error > tolerance).sum())} of {error.numel()} elements out of tolerance; worst "
        f"|difference| {error.flatten()[worst].item():.3g} > {tolerance.flatten()[worst].item():.3g}")


def _rounded(shape, dtype, device, generator):
    """Standard-normal values rounded to ``dtype``: the inputs both sides compute from."""
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)


@pytest.mark.parametrize("bias", list(BIASES.values()), ids=list(BIASES))
@pytest.mark.parametrize("shape", list(INPUT_SHAPES.values()), ids=list(INPUT_SHAPES))
@pytest.mark.parametrize("dtype", list(FLOATS.values()), ids=list(FLOATS))
def test_linear_function_gradients_equal_the_hand_derived_ones(dtype, shape, bias, device):
    g = torch.Generator().manual_seed(0)
    x = _rounded(shape, dtype, device, g).requires_grad_()
    w = _rounded((OUT_FEATURES, IN_FEATURES), dtype, device, g).requires_grad_()
    b = _rounded((OUT_FEATURES,), dtype, device, g).requires_grad_() if bias else None
    grad_y = _rounded((*shape[:-1], OUT_FEATURES), dtype, device, g)
    try:
        y = LinearFunction.apply(x, w, b)
        y.backward(grad_y)
    except RuntimeError as error:
        if "not implemented for" in str(error):
            pytest.skip(f"LinearFunction in {dtype} on {device}: {error}")
        raise

    # The formulas in float64, on the same rounded values; rows are every leading index.
    x64, w64, g64 = (t.detach().double().cpu() for t in (x, w, grad_y))
    rows_x, rows_g = x64.reshape(-1, IN_FEATURES), g64.reshape(-1, OUT_FEATURES)
    b64 = b.detach().double().cpu() if bias else torch.zeros(OUT_FEATURES, dtype=torch.float64)
    expected = {
        "y": (x64 @ w64.t() + b64, IN_FEATURES + bias, x64.abs() @ w64.abs().t() + b64.abs()),
        "dx": (g64 @ w64, OUT_FEATURES, g64.abs() @ w64.abs()),
        "dW": (rows_g.t() @ rows_x, rows_x.shape[0], rows_g.abs().t() @ rows_x.abs()),
    }
    actual = {"y": y, "dx": x.grad, "dW": w.grad}
    if bias:
        expected["db"] = (rows_g.sum(0), rows_g.shape[0] - 1, rows_g.abs().sum(0))
        actual["db"] = b.grad
    for name, (value, terms, magnitudes) in expected.items():
        assert actual[name] is not None, f"{name}: no gradient"
        assert actual[name].dtype == dtype, f"{name} is {actual[name].dtype}, not {dtype}"
        assert actual[name].shape == value.shape, f"{name}: shape {tuple(actual[name].shape)}"
        _within(actual[name], value, _bound(dtype, terms, magnitudes), f"{name} in {dtype}")


# -- nn.Parameter, per dtype ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", list(FLOATS.values()), ids=list(FLOATS))
def test_parameter_keeps_dtype_and_gets_a_gradient_of_its_own_kind(dtype, device):
    g = torch.Generator().manual_seed(0)
    p = nn.Parameter(_rounded((3, 5), dtype, device, g))
    frozen = nn.Parameter(_rounded((3, 5), dtype, device, g), requires_grad=False)
    assert isinstance(p, nn.Parameter) and p.dtype == dtype and p.device.type == torch.device(device).type
    assert p.requires_grad and p.is_leaf and p.grad is None
    assert not frozen.requires_grad and frozen.is_leaf

    c = _rounded((3, 5), dtype, device, g)
    (p * c + frozen).sum().backward()
    # d/dp sum(p * c) = c, exactly: the backward multiplies c by ones.
    assert p.grad.dtype == dtype and p.grad.shape == p.shape
    assert torch.equal(p.grad, c)
    assert frozen.grad is None  # a parameter that does not require grad gets none


@pytest.mark.parametrize("dtype", list(FLOATS.values()), ids=list(FLOATS))
def test_parameter_linear_keeps_its_parameters_in_every_dtype(dtype, device):
    torch.manual_seed(0)
    layer = ParameterLinear(IN_FEATURES, OUT_FEATURES).to(device=device, dtype=dtype)
    x = _rounded((4, IN_FEATURES), dtype, device, torch.Generator().manual_seed(1))
    try:
        layer(x).sum().backward()
    except RuntimeError as error:
        if "not implemented for" in str(error):
            pytest.skip(f"ParameterLinear in {dtype} on {device}: {error}")
        raise
    for name, p in layer.named_parameters():
        assert isinstance(p, nn.Parameter), f"{name} is no longer an nn.Parameter after .to({dtype})"
        assert p.dtype == dtype and p.requires_grad and p.is_leaf, name
        assert p.grad is not None and p.grad.dtype == dtype and p.grad.shape == p.shape, name
    # With g = ones: db = the number of rows, exactly (small integers are exact in every dtype).
    assert torch.equal(layer.bias.grad, torch.full_like(layer.bias, 4))
