"""How close a torch result must be to its reference, per dtype.

The reference runs in float64 on the same inputs; a float64 result must agree to rounding
(rtol 1e-10), a float32 one to float32's precision after sums of a few hundred terms
(rtol 1e-4; atol 1e-5 times the largest expected magnitude, so that values near zero in a
tensor of large ones are judged on the tensor's scale). :func:`assert_close` floors that scale
at 1; ``relative=True`` does not, for inputs far below 1 (activations of 1e-20) where an
absolute floor would pass anything.

Whole-network results in another precision or configuration (autocast in bfloat16 or float16,
channels_last, torch.compile) are compared as a whole tensor, by the norm of the difference
over the norm of the reference (:func:`relative_error`), with bounds derived from the dtype's
machine epsilon (:func:`network_tolerances`):

  outputs    16 eps: a forward pass rounds each product once in the dtype (measured: at most
             1.2 eps for the chapter's nets, autocast or float32 in another layout or compiled)
  gradients  in float32, 8 eps sqrt(batch), at least 64 eps: a weight's gradient sums over the
             batch (and the positions), and rounding errors over a sum grow like a random walk
             (measured: 9 eps at batch 64, a layout or compiler summing in another order);
             under autocast, 32 eps for bfloat16 and 128 eps for float16, about twice the largest
             error measured against float64 on the CPU over batches 1 to 256 (20 eps and 68 eps:
             every input of every product is rounded to the half type, so the error does not
             shrink with the batch; loss scaling as GradScaler does it changes nothing here)
"""

from __future__ import annotations

import math

import torch

RTOL = {torch.float64: 1e-10, torch.float32: 1e-4}
ATOL = {torch.float64: 1e-12, torch.float32: 1e-5}


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype | None = None, msg: str = "",
                 relative: bool = False) -> None:
    """Compare ``actual`` (any device) with the float64 ``expected`` at the tolerance of ``dtype``;
    ``relative``: judge on the tensor's own scale even when it is far below 1."""
    dtype = dtype or actual.dtype
    expected = expected.detach().to("cpu", torch.float64)
    actual = actual.detach().to("cpu", torch.float64)
    largest = expected.abs().max().item() if expected.numel() else 1.0
    scale = largest if relative and largest > 0 else max(1.0, largest)
    torch.testing.assert_close(actual, expected, rtol=RTOL[dtype], atol=ATOL[dtype] * scale,
                               msg=(lambda m: f"{msg}: {m}") if msg else None)


AUTOCAST_GRADIENT_EPS = {"bfloat16": 32.0, "float16": 128.0}


def eps(dtype) -> float:
    """Machine epsilon of a dtype (a torch.dtype or its name)."""
    return torch.finfo(getattr(torch, dtype) if isinstance(dtype, str) else dtype).eps


def network_tolerances(dtype, batch_size: int) -> tuple[float, float]:
    """(outputs, gradients): the largest accepted :func:`relative_error` of a whole network's
    logits and of each parameter's gradient computed in ``dtype`` (see the module docstring)."""
    name = dtype if isinstance(dtype, str) else str(dtype).removeprefix("torch.")
    e = eps(dtype)
    gradients = AUTOCAST_GRADIENT_EPS.get(name) or max(64.0, 8 * math.sqrt(batch_size))
    return 16 * e, gradients * e


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """||actual - expected|| / ||expected|| in float64 (0 when both are zero)."""
    actual = actual.detach().to("cpu", torch.float64)
    expected = expected.detach().to("cpu", torch.float64)
    norm = expected.norm().item()
    difference = (actual - expected).norm().item()
    return difference / norm if norm > 0 else difference
