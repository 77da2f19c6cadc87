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

  r u |theta|            the roundings of the parameter itself: torch's update, r = 1 (the
                         float64 reference is not rounded); AdamW stores its decay
                         theta (1 - g lambda) before the update, and rounds the factor
                         (1 - g lambda) to the parameter's compute type first, r = 3
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
it in float32 (the ``differentiable`` path, and ``capturable`` on CUDA, which the checks do not
take), 1 - beta^t loses digits to cancellation: beta^t carries (t + 1) u32 (beta's conversion,
raised to the power t, and the power's own rounding), relative to 1 - beta^t that is
(t + 1) u32 beta^t / (1 - beta^t), halved for beta2 by the square root, plus about 6 float32
roundings of the derived scalars (the subtractions, the quotients, the square root, eps over the
step size): a relative error of ((t + 1)(b1 + b2 / 2) + 6) u32 of the update, with
b = beta^t / (1 - beta^t) (:func:`float32_bias_correction_error`; 7e-6 at step 1 with betas
(0.9, 0.99)). That is torch's design, not a fault, and it matters only for float64 parameters and
for float32 ones within a few u32.
A formula error (a wrong bias correction, a sign, a missed term) or a wrong element (a vector
block's tail, a skipped tensor) moves the update by a sizeable fraction of B and fails: at n = 43
(Adam, 5 steps) the bound is 0.17 B in bfloat16, 0.02 B in float16 and 3e-6 B in float32; the
checks give 16-bit parameters updates of many units in the last place (bench/test_optimizers.py),
and plant such errors to show the bound catches them.
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
    float32 step counter (module docstring): ((t + 1)(b1 + b2 / 2) + 6) u32, b = beta^t / (1 - beta^t)."""
    u32 = torch.finfo(torch.float32).eps / 2
    b1, b2 = (beta ** step / (1 - beta ** step) for beta in betas)
    return ((step + 1) * (b1 + b2 / 2) + 6) * u32


def optimizer_step_tolerance(dtype: torch.dtype, expected: torch.Tensor, bound: torch.Tensor,
                             optimizer: str, step: int, parameter_roundings: int = 1,
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


# -- reduced precision, element by element (bfloat16, float16) ----------------------------------------
#
# The checks of every dtype and memory layout (bench/test_layer_variants.py, bench/test_loss_variants.py)
# hold a bfloat16 or float16 result to a bound per element, derived from the routine's arithmetic:
# :func:`computation_error` for what the computation adds before its result is rounded,
# :func:`stored_result_error` and :func:`rounded_result_bound` for the roundings to the dtype, and
# :func:`assert_close_rounded` to compare. float32 and float64 keep :func:`assert_close` above.


def unit_roundoff(dtype) -> float:
    """u = eps / 2: the largest relative error of rounding a real number to nearest in ``dtype``
    (in its normal range)."""
    return eps(dtype) / 2


def gamma(terms: int, dtype) -> float:
    """gamma_n = n u / (1 - n u), n = ``terms``, u the unit roundoff of ``dtype``: the bound on the
    relative error of n successive roundings. Summing n products in any order, in ``dtype``, errs by
    at most gamma_n sum_i |x_i y_i| (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
    Lemma 3.1 and section 3.1); 0 for no term."""
    if terms <= 0:
        return 0.0
    nu = terms * unit_roundoff(dtype)
    if nu >= 1:
        raise ValueError(f"{terms} terms are more than {dtype} can bound (n u = {nu:.3g} >= 1)")
    return nu / (1 - nu)


def computation_error(dtype, absolute_sum: torch.Tensor, terms: int, roundings: int = 0,
                      accumulate: torch.dtype = torch.float32) -> torch.Tensor:
    """The error, element by element, that a routine computing y in ``dtype`` (bfloat16 or float16) from
    inputs already in ``dtype`` may make before its result is rounded to ``dtype``.

    Let y be a sum of K = ``terms`` terms t_k (the products x_i w_i of a convolution or a linear layer
    and its bias; the exponentials of a log-sum-exp; the per-position losses of a reduction) and
    A = sum_k |t_k| = ``absolute_sum`` (for a bilinear routine, the reference run on the absolute values
    of its inputs; A = |y| where every term has the sign of y, as the terms of a loss do). Then:

      accumulation  a sum of K products in ``accumulate``, in any order, errs by at most
                    gamma_K(accumulate) A (:func:`gamma`). torch's kernels accumulate bfloat16 and
                    float16 in float32 (at::opmath_type); a kernel that sums in the dtype itself
                    (the NLL loss's cascade sum) passes accumulate=dtype;
      roundings     each intermediate result the routine rounds to ``dtype`` on its way (a tensor it
                    stores and reads back, as the log-softmax kernel keeps the row's sum of
                    exponentials; an elementwise formula evaluated operation by operation in the
                    dtype) adds at most u times its own magnitude, at most u A: ``roundings`` u A;
      underflow     below the smallest normal number a rounding errs by up to half the subnormal
                    spacing, u * smallest_normal absolute, per intermediate rounding.

    So:  error <= (roundings u + gamma_K(accumulate)) A + roundings u smallest_normal.

    What the error of an input that is itself a rounded result adds (log-softmax's stored output, read
    by the loss and by its own backward) depends on the routine: the caller adds that bound.
    """
    u = unit_roundoff(dtype)
    a = absolute_sum.detach().to("cpu", torch.float64)
    return (roundings * u + gamma(terms, accumulate)) * a + roundings * u * torch.finfo(dtype).smallest_normal


def stored_result_error(dtype, expected: torch.Tensor, error: torch.Tensor | float) -> torch.Tensor:
    """|y_stored - y|: the bound on how far a result that torch computed with at most ``error``
    (:func:`computation_error`, plus anything carried in) and rounded to ``dtype`` once, on storing it,
    lies from the exact y = ``expected``: (1 + u) error + u |y| + u smallest_normal (the rounding of
    y + error, at most u |y + error|, or half the subnormal spacing)."""
    u = unit_roundoff(dtype)
    y = expected.detach().to("cpu", torch.float64).abs()
    return (1 + u) * error + u * y + u * torch.finfo(dtype).smallest_normal


def rounded_result_bound(dtype, expected: torch.Tensor, error: torch.Tensor | float) -> torch.Tensor:
    """The largest accepted |actual - round(y)|, element by element: ``actual`` is torch's result in
    ``dtype``, computed with at most ``error`` before its rounding; round(y) is the exact y =
    ``expected`` (the float64 reference on the same, already rounded, inputs) rounded to ``dtype``,
    which is what :func:`assert_close_rounded` compares with. Two roundings to nearest lie between them,
    torch's and the reference's:

        |actual - round(y)| <= |actual - y| + |y - round(y)|
                            <= (1 + u) error + u |y| + u |y| + 2 u smallest_normal
                             = (1 + u) error + eps |y| + 2 u smallest_normal.

    With error = 0 this is one unit in the last place of y: a routine that computes in float32 and
    rounds once is held to a last-place difference plus a float32-sized share of A, and an element
    off by 10 %, a dropped term or a value read from a wrong index falls outside (the files that use
    this plant such errors and check that they fail).
    """
    u = unit_roundoff(dtype)
    y = expected.detach().to("cpu", torch.float64).abs()
    return stored_result_error(dtype, expected, error) + u * y + u * torch.finfo(dtype).smallest_normal


def assert_close_rounded(actual: torch.Tensor, expected: torch.Tensor, bound: torch.Tensor, msg: str = "") -> None:
    """Each element of ``actual`` (bfloat16 or float16, any device) within ``bound``
    (:func:`rounded_result_bound`) of the float64 ``expected`` rounded to ``actual``'s dtype; the same
    shape, and NaN exactly where ``expected`` is NaN."""
    prefix = f"{msg}: " if msg else ""
    assert actual.shape == expected.shape, f"{prefix}shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    expected = expected.detach().to("cpu", torch.float64)
    rounded = expected.to(actual.dtype).to(torch.float64)
    actual_nan = actual.detach().isnan().cpu()
    actual = actual.detach().to("cpu", torch.float64)
    nan = expected.isnan()
    assert torch.equal(actual_nan, nan), (
        f"{prefix}NaN where expected is not, or the reverse, at {(actual_nan != nan).nonzero()[:5].tolist()}")
    error = (actual - rounded).abs().masked_fill(nan, 0.0)
    excess = (error - bound.detach().to("cpu", torch.float64).expand_as(error)).masked_fill(nan, -1.0)
    if excess.numel() and excess.max() > 0:
        worst = int(excess.argmax())
        where = [int(i) for i in torch.unravel_index(torch.tensor(worst), error.shape)]
        raise AssertionError(
            f"{prefix}{int((excess > 0).sum())} of {error.numel()} elements outside the bound; the worst, at "
            f"{where}: {actual.flatten()[worst].item()!r}, expected {rounded.flatten()[worst].item()!r} "
            f"({expected.flatten()[worst].item()!r} before rounding to {actual.dtype}), off by "
            f"{error.flatten()[worst].item():.3g}, bound {error.flatten()[worst].item() - excess.flatten()[worst].item():.3g}")
