"""A linear layer built by hand from the chapter's section 1 building blocks.

The chapter lists ``nn.Parameter`` and ``autograd.Function`` among PyTorch's classes. This module
uses both: :class:`ParameterLinear` owns its weight and bias as explicit ``nn.Parameter`` objects,
and its forward goes through :class:`LinearFunction`, a ``torch.autograd.Function`` whose backward
is written out from the formula

    y = x W^T + b,   dL/dx = g W,   dL/dW = g^T x,   dL/db = sum_n g_n

where g = dL/dy. It is a drop-in replacement for ``nn.Linear`` (same parameter names, shapes and
initialisation), so a model variant can swap it in and be checked against the standard one.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LinearFunction(torch.autograd.Function):
    """y = x W^T + b with a hand-written backward (no call to torch's own linear)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
        ctx.save_for_backward(x, weight, bias)
        y = x.matmul(weight.t())
        if bias is not None:
            y = y + bias
        return y

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        x, weight, bias = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_y.matmul(weight)
        if ctx.needs_input_grad[1]:
            # Leading dimensions of x (batch, ...) are summed over.
            grad_w = grad_y.reshape(-1, grad_y.shape[-1]).t().matmul(x.reshape(-1, x.shape[-1]))
        if bias is not None and ctx.needs_input_grad[2]:
            grad_b = grad_y.reshape(-1, grad_y.shape[-1]).sum(0)
        return grad_x, grad_w, grad_b


class ParameterLinear(nn.Module):
    """``nn.Linear``'s interface, with explicit ``nn.Parameter``s and :class:`LinearFunction`."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # nn.Linear's initialisation: kaiming_uniform(a=sqrt(5)) on the weight, which is
        # U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the same bound for the bias.
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return LinearFunction.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


LINEAR_LAYERS = {"torch": nn.Linear, "custom": ParameterLinear}


def linear_layer(kind: str):
    """The class for ``linear=kind``: ``"torch"`` (nn.Linear) or ``"custom"`` (ParameterLinear)."""
    try:
        return LINEAR_LAYERS[kind]
    except KeyError:
        raise ValueError(
            f"unknown linear layer {kind!r}; accepted: {', '.join(sorted(LINEAR_LAYERS))}"
        ) from None
