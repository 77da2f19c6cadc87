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

An optimizer step on parameters of any dtype (:func:`optimizer_step_tolerance`) is checked one step
at a time: the float64 reference starts each step from the parameters torch holds (so rounding
the parameters does not accumulate over steps) and keeps its own float64 state, fed the same
gradients. With u = eps/2 the unit roundoff of the parameters' dtype, each operation torch does
rounds once (relative error <= u, CPU and CUDA kernels compute a reduced type in float and round
the result once, which only helps), and an error made in a sum of terms is bounded by u times the
sum of the terms' magnitudes, B (the reference's ``bounds``: the same recurrences run on absolute
values, so cancellation in m or in a momentum buffer does not hide the error). Torch's result
then differs from the rounded reference by at most

  r u |theta|            the roundings of the parameter itself: torch's update and the
                         comparison's rounding of the reference, r = 2; AdamW's decay
                         theta (1 - g lambda) is stored before the update, r = 3
  + n(t) u B             the rounding errors of the update, n(t) operations' worth at step t
  + tiny                 the dtype's smallest normal number, for results that are exactly zero

where n(t) counts the operations on the update's path, those made in an optimizer state carry
over to every later step (the state keeps their error, t steps' worth at step t):
  SGD   6 per step in the state (weight decay, the buffer's two products and sum, the Nesterov
        product and sum) plus 2 (the learning rate's product, the step's own sum): n(t) = 6t + 2;
  Adam  m: 3 per step (two products, a sum), v: 4 per step (the square, two products, a sum),
        v's error halved by the square root; then the two bias corrections, the square root, eps,
        the quotient, the learning rate and the L2 or decoupled decay: n(t) = 7t + 8.
The reference's own float64 rounding is bounded the same way with float64's eps, which is added.
Where torch keeps Adam's step counter t as a float32 tensor and computes the bias corrections from
it in float32 (the ``differentiable`` and ``capturable`` paths, so that a CUDA graph can replay a
step), 1 - beta^t loses digits to cancellation: beta^t carries 2 u32 (beta's conversion and the
power), relative to 1 - beta^t that is 2 u32 beta^t / (1 - beta^t), halved for beta2 by the square
root, plus about 6 float32 roundings of the derived scalars (the quotients, the square root, eps
over the step size): a relative error of (2 b1 + b2 + 6) u32 of the update, with
b = beta^t / (1 - beta^t) (:func:`float32_bias_correction_error`; 1e-5 at step 1 with betas
(0.9, 0.99)). That is torch's design, not a fault, and it matters only for float64 parameters and
for float32 ones within a few u32.
A formula error (a wrong bias correction, a sign, a missed term) or a wrong element (a vector
block's tail, a skipped tensor) moves the update by a sizeable fraction of B and fails: at n = 43
(Adam, 5 steps) the bound is 0.17 B in bfloat16, 0.02 B in float16 and 3e-6 B in float32.
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


# n(t) of the module docstring: rounding operations on an optimizer update's path after t steps.
OPTIMIZER_ROUNDINGS = {"sgd": lambda t: 6 * t + 2, "adam": lambda t: 7 * t + 8}


def float32_bias_correction_error(betas: tuple[float, float], step: int) -> float:
    """Relative error of an Adam update whose bias corrections are computed in float32 from a
    float32 step counter (module docstring): (2 b1 + b2 + 6) u32, b = beta^t / (1 - beta^t)."""
    u32 = torch.finfo(torch.float32).eps / 2
    b1, b2 = (beta ** step / (1 - beta ** step) for beta in betas)
    return (2 * b1 + b2 + 6) * u32


def optimizer_step_tolerance(dtype: torch.dtype, expected: torch.Tensor, bound: torch.Tensor,
                             optimizer: str, step: int, parameter_roundings: int = 2,
                             relative_update_error: float = 0.0) -> torch.Tensor:
    """The largest accepted |torch - reference| per element after one optimizer step from the same
    inputs (module docstring): r u |expected| + n(step) u bound + tiny, plus float64's own share,
    plus ``relative_update_error`` times the bound (a float32 step counter's, where torch keeps one)."""
    u, u64 = torch.finfo(dtype).eps / 2, torch.finfo(torch.float64).eps / 2
    n = OPTIMIZER_ROUNDINGS[optimizer](step)
    expected, bound = expected.detach().to("cpu", torch.float64), bound.detach().to("cpu", torch.float64)
    return ((parameter_roundings * (u + u64)) * expected.abs() + (n * (u + u64) + relative_update_error) * bound
            + torch.finfo(dtype).tiny)


def assert_within(actual: torch.Tensor, expected: torch.Tensor, tolerance: torch.Tensor, msg: str = "",
                  locate=lambda index: f"flat index {index}") -> None:
    """Every element of ``actual`` within its own ``tolerance`` of the float64 ``expected``; the
    message names the worst element (``locate`` turns its flat index into words) and how many are out."""
    actual = actual.detach().to("cpu", torch.float64)
    expected = expected.detach().to("cpu", torch.float64)
    error = (actual - expected).abs()
    bad = ~(error <= tolerance)  # NaN is out
    if bad.any():
        ratio = torch.where(bad, error / tolerance, torch.zeros_like(error)).nan_to_num(float("inf"))
        worst = int(ratio.flatten().argmax())
        flat_a, flat_e, flat_t = actual.flatten(), expected.flatten(), tolerance.flatten()
        raise AssertionError(
            f"{msg}: {int(bad.sum())} of {bad.numel()} elements out of tolerance; worst at "
            f"{locate(worst)}: {flat_a[worst].item():.9g} vs {flat_e[worst].item():.9g} "
            f"(|difference| {error.flatten()[worst].item():.3g} > {flat_t[worst].item():.3g})")


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
