"""From-definition layers, forward and backward, in plain tensor arithmetic.

Oracles for ``F.conv2d``, ``F.max_pool2d``, ``F.linear`` and ``F.relu`` (the layers of the
chapter's section 2). None of them calls the routine it checks: convolution is a sum over
windows taken with ``Tensor.unfold`` and contracted with ``einsum``; pooling is ``amax`` over the
same windows; each backward is the chain rule for its forward, written out.

Shapes follow torch: images are (N, C, H, W), convolution weights (O, C, kH, kW), linear
weights (out, in).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _zero_pad(x: Tensor, padding: tuple[int, int]) -> Tensor:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, h + 2 * ph, w + 2 * pw)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _windows(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """(N, C, H, W) -> (N, C, OH, OW, kH, kW): every kH x kW window, `stride` apart."""
    return x.unfold(2, kernel[0], stride[0]).unfold(3, kernel[1], stride[1])


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0) -> Tensor:
    """out[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] * x_pad[n, c, i*sH + p, j*sW + q]."""
    stride, padding = _pair(stride), _pair(padding)
    patches = _windows(_zero_pad(x, padding), weight.shape[2:], stride)
    out = torch.einsum("nchwpq,ocpq->nohw", patches, weight)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def conv2d_backward(grad_out: Tensor, x: Tensor, weight: Tensor, stride=1, padding=0):
    """Gradients (d x, d weight, d bias) of :func:`conv2d` given d out.

    d w[o,c,p,q] = sum_{n,i,j} g[n,o,i,j] x_pad[n,c,i*sH+p,j*sW+q];  d b[o] = sum_{n,i,j} g[n,o,i,j];
    d x_pad[n,c,i*sH+p,j*sW+q] += sum_o g[n,o,i,j] w[o,c,p,q], then the padding is cut off.
    """
    stride, padding = _pair(stride), _pair(padding)
    kh, kw = weight.shape[2:]
    x_pad = _zero_pad(x, padding)
    patches = _windows(x_pad, (kh, kw), stride)
    grad_w = torch.einsum("nchwpq,nohw->ocpq", patches, grad_out)
    grad_b = grad_out.sum(dim=(0, 2, 3))
    oh, ow = grad_out.shape[2:]
    grad_x_pad = torch.zeros_like(x_pad)
    for p in range(kh):
        for q in range(kw):
            rows = slice(p, p + stride[0] * (oh - 1) + 1, stride[0])
            cols = slice(q, q + stride[1] * (ow - 1) + 1, stride[1])
            grad_x_pad[:, :, rows, cols] += torch.einsum("nohw,oc->nchw", grad_out, weight[:, :, p, q])
    h, w = x.shape[2:]
    grad_x = grad_x_pad[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]
    return grad_x, grad_w, grad_b


def max_pool2d(x: Tensor, kernel_size=2, stride=None) -> Tensor:
    """out[n,c,i,j] = max over the window x[n, c, i*s : i*s+k, j*s : j*s+k] (floor mode, no padding)."""
    kernel = _pair(kernel_size)
    stride = _pair(stride if stride is not None else kernel_size)
    return _windows(x, kernel, stride).flatten(-2).amax(dim=-1)


def max_pool2d_backward(grad_out: Tensor, x: Tensor, kernel_size=2, stride=None) -> Tensor:
    """d x of :func:`max_pool2d`: each window's gradient goes to its maximum.

    Where a window holds its maximum more than once, the first position in row-major order takes
    the gradient (the element the forward's max is read from); positions no window covers
    (floor mode drops a last odd row or column) get zero.
    """
    kernel = _pair(kernel_size)
    stride = _pair(stride if stride is not None else kernel_size)
    windows = _windows(x, kernel, stride).flatten(-2)  # N, C, OH, OW, kH*kW
    is_max = windows == windows.amax(dim=-1, keepdim=True)
    first_max = is_max & (is_max.cumsum(dim=-1) == 1)
    routed = first_max.to(grad_out.dtype) * grad_out.unsqueeze(-1)
    oh, ow = grad_out.shape[2:]
    grad_x = torch.zeros_like(x)
    for p in range(kernel[0]):
        for q in range(kernel[1]):
            rows = slice(p, p + stride[0] * (oh - 1) + 1, stride[0])
            cols = slice(q, q + stride[1] * (ow - 1) + 1, stride[1])
            grad_x[:, :, rows, cols] += routed[..., p * kernel[1] + q]
    return grad_x


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[n,o] = sum_i x[n,i] w[o,i] + b[o]."""
    y = torch.einsum("ni,oi->no", x, weight)
    return y + bias if bias is not None else y


def linear_backward(grad_y: Tensor, x: Tensor, weight: Tensor):
    """(d x, d w, d b) of :func:`linear`: g w, g^T x, sum_n g."""
    return (torch.einsum("no,oi->ni", grad_y, weight),
            torch.einsum("no,ni->oi", grad_y, x),
            grad_y.sum(dim=0))


def relu(x: Tensor) -> Tensor:
    """max(x, 0), written as x * [x > 0]."""
    return x * (x > 0).to(x.dtype)


def relu_backward(grad_y: Tensor, x: Tensor) -> Tensor:
    """d x = g * [x > 0] (the derivative at 0 taken as 0, as torch does)."""
    return grad_y * (x > 0).to(grad_y.dtype)


def max_pool2d_with_indices(x: Tensor, kernel_size=2, stride=None) -> tuple[Tensor, Tensor]:
    """(out, indices) of max pooling (floor mode, no padding), with NaN taken as the largest value.

    out[n,c,i,j] is the window's maximum, as in :func:`max_pool2d`, except that a window holding a
    NaN gives NaN: torch's max pooling propagates NaN as torch.max does. indices[n,c,i,j] is the
    flat position h * W + w, within its (H, W) plane, of the element out is read from (what
    ``F.max_pool2d(..., return_indices=True)`` returns): the window's NaN where it holds one, else
    its first maximum in row-major order (the element the backward of :func:`max_pool2d_backward`
    routes to). Which of several NaNs in one window torch picks is not documented: the checks
    give a window at most one.
    """
    kernel = _pair(kernel_size)
    stride = _pair(stride if stride is not None else kernel_size)
    width = x.shape[3]
    windows = _windows(x, kernel, stride).flatten(-2)  # N, C, OH, OW, kH*kW
    is_nan = windows.isnan() if windows.is_floating_point() else torch.zeros_like(windows, dtype=torch.bool)
    has_nan = is_nan.any(dim=-1, keepdim=True)
    is_max = torch.where(has_nan, is_nan, windows == windows.amax(dim=-1, keepdim=True))
    first = is_max & (is_max.cumsum(dim=-1) == 1)
    position = (first.to(torch.int64) * torch.arange(windows.shape[-1], device=x.device)).sum(dim=-1)
    out = windows.gather(-1, position.unsqueeze(-1)).squeeze(-1)
    oh, ow = out.shape[2:]
    rows = torch.arange(oh, device=x.device).view(-1, 1) * stride[0] + position // kernel[1]
    cols = torch.arange(ow, device=x.device).view(1, -1) * stride[1] + position % kernel[1]
    return out, rows * width + cols


def max_pool2d_backward_at(grad_out: Tensor, indices: Tensor, input_shape) -> Tensor:
    """d x of max pooling given where each output was read from (:func:`max_pool2d_with_indices`):
    d x[n, c, p] = sum of grad_out[n, c, i, j] over the windows (i, j) with indices[n, c, i, j] = p
    (overlapping windows can route several gradients to one element)."""
    n, c, h, w = input_shape
    grad_x = grad_out.new_zeros(n, c, h * w)
    grad_x.scatter_add_(2, indices.flatten(2), grad_out.flatten(2))
    return grad_x.view(n, c, h, w)
