"""torch's layers (F.conv2d, F.max_pool2d, F.linear, F.relu), forward and backward, against the
from-definition references in reference_models.references.layers."""

import pytest
import torch
import torch.nn.functional as F

from blitzbench.measure.tolerances import assert_close
from reference_models.references import layers

DTYPES = [pytest.param(torch.float64, id="float64"), pytest.param(torch.float32, id="float32")]

# (batch, in channels, out channels, kernel, stride, padding, image size): the chapter's two
# convolutions, cifar_net's first, and a strided, padded one with an odd size.
CONVOLUTIONS = {
    "chapter_conv1": (4, 1, 6, 3, 1, 0, 32),
    "chapter_conv2": (4, 6, 16, 3, 1, 0, 15),
    "cifar_conv1": (2, 3, 6, 5, 1, 0, 32),
    "strided_padded": (3, 3, 4, 3, 2, 1, 9),
}


def _random(*shape, device, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def _torch_grads(fn, inputs, grad_out):
    """Gradients of sum(fn(*inputs) * grad_out) with respect to each input, by torch's autograd."""
    leaves = [t.detach().requires_grad_() for t in inputs]
    out = fn(*leaves)
    out.backward(grad_out)
    return out.detach(), [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("config", list(CONVOLUTIONS.values()), ids=list(CONVOLUTIONS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d(config, dtype, device):
    n, c, o, k, stride, padding, size = config
    x = _random(n, c, size, size, device=device, dtype=dtype, seed=1)
    w = _random(o, c, k, k, device=device, dtype=dtype, seed=2)
    b = _random(o, device=device, dtype=dtype, seed=3)
    expected = layers.conv2d(x.double(), w.double(), b.double(), stride, padding)
    grad_out = _random(*expected.shape, device=device, dtype=dtype, seed=4)
    out, (gx, gw, gb) = _torch_grads(lambda x, w, b: F.conv2d(x, w, b, stride, padding), (x, w, b), grad_out)
    assert_close(out, expected, dtype, "forward")
    ex, ew, eb = layers.conv2d_backward(grad_out.double(), x.double(), w.double(), stride, padding)
    assert_close(gx, ex, dtype, "d input")
    assert_close(gw, ew, dtype, "d weight")
    assert_close(gb, eb, dtype, "d bias")


@pytest.mark.parametrize("size", [32, 30, 15, 13], ids=lambda s: f"{s}x{s}")
@pytest.mark.parametrize("with_ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d(size, with_ties, dtype, device):
    # Odd sizes check floor mode (the last row and column belong to no window); "ties" feeds
    # ReLU'd values, where whole windows are 0, as in lenet and cifar_net.
    x = _random(2, 3, size, size, device=device, dtype=dtype, seed=5)
    if with_ties:
        x = torch.relu(x - 0.5)
    expected = layers.max_pool2d(x.double(), 2)
    grad_out = _random(*expected.shape, device=device, dtype=dtype, seed=6)
    out, (gx,) = _torch_grads(lambda x: F.max_pool2d(x, 2), (x,), grad_out)
    assert out.shape == (2, 3, size // 2, size // 2)
    assert_close(out, expected, dtype, "forward")
    assert_close(gx, layers.max_pool2d_backward(grad_out.double(), x.double(), 2), dtype, "d input")


@pytest.mark.parametrize("shape", [(1, 576, 120), (64, 120, 84), (7, 84, 10)],
                         ids=lambda s: f"{s[0]}x{s[1]}to{s[2]}")
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear(shape, dtype, device):
    n, i, o = shape
    x = _random(n, i, device=device, dtype=dtype, seed=7)
    w = _random(o, i, device=device, dtype=dtype, seed=8)
    b = _random(o, device=device, dtype=dtype, seed=9)
    grad_out = _random(n, o, device=device, dtype=dtype, seed=10)
    out, (gx, gw, gb) = _torch_grads(F.linear, (x, w, b), grad_out)
    assert_close(out, layers.linear(x.double(), w.double(), b.double()), dtype, "forward")
    ex, ew, eb = layers.linear_backward(grad_out.double(), x.double(), w.double())
    assert_close(gx, ex, dtype, "d input")
    assert_close(gw, ew, dtype, "d weight")
    assert_close(gb, eb, dtype, "d bias")


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu(dtype, device):
    x = _random(4, 6, 5, 5, device=device, dtype=dtype, seed=11)
    x[0, 0, 0, :3] = 0.0  # the kink: derivative taken as 0
    grad_out = _random(*x.shape, device=device, dtype=dtype, seed=12)
    out, (gx,) = _torch_grads(F.relu, (x,), grad_out)
    assert_close(out, layers.relu(x.double()), dtype, "forward")
    assert_close(gx, layers.relu_backward(grad_out.double(), x.double()), dtype, "d input")
