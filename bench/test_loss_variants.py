"""The chapter's losses (section 4: nn.MSELoss, nn.CrossEntropyLoss, and the F.log_softmax and
F.nll_loss it is made of) in every variant torch has a kernel for: each dtype the operation accepts
on the device, each memory layout, the class dimension last or not, sizes around the vector widths;
value and gradient, against the formulas of reference_models.references.losses computed in float64
from the same, already rounded, inputs.

bench/test_losses.py checks float64 and float32 on contiguous (N, C) tensors, with every option;
here, the variants of the kernels:

- dtypes: float64 and float32 (blitzbench.measure.tolerances.assert_close); bfloat16 and float16,
  each element held to a bound derived from the dtype's unit roundoff, the number of terms summed
  and the roundings the routine makes on its way (``computation_error`` and ``rounded_result_bound``
  in blitzbench.measure.tolerances; each routine's count is given where it is used), against the
  reference rounded to the dtype; integer dtypes, one case each: where the release raises "not
  implemented for" the dtype, the case skips with torch's message.
- the class dimension: last ((N, C), log-softmax over dim 1), first ((C, N), dim 0) and at dim 1 of
  (N, C, H, W), the layout of a segmentation network's output, with (N, H, W) class-index targets
  for the NLL and cross-entropy losses (torch.nn.NLLLoss: "(N, C, d1, ..., dK)").
- layouts: contiguous; channels_last (4-d inputs: the classes innermost in memory); strided (every
  dimension taken with step 2 from a tensor twice as large); reversed (the dimensions stored in
  reverse order). The layout applies to the input and to the target of the same shape.
- sizes: class counts 1, 7, 10, 17, 33, 65 (a vector's worth and one more, so that the vectorized
  block and the scalar tail both run), batch one.
- options: each reduction, class weights and ignore_index, on one (N, C) and one (N, C, H, W) input.

The last tests plant errors in a reference (a class left out of the normalization, one element
10 % off, a sample's target read from its neighbour, a position left out of the mean) and check
that the comparison catches each.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blitzbench.measure.tolerances import (assert_close, assert_close_rounded, computation_error,
                                           rounded_result_bound, stored_result_error)
from blitzbench.variants import FLOATS, INTEGERS, LAYOUTS, REDUCED, placed, reference_input, run_or_skip
from reference_models.references import losses

# -- layouts --------------------------------------------------------------------------------------------

def _layouts_of(shape) -> list[str]:
    return [name for name in LAYOUTS if name != "channels_last" or len(shape) == 4]


def _params(cases) -> tuple[str, list]:
    """``parametrize``'s arguments for (variant, layout, dtype) triples; ids join the three."""
    return "variant,layout,dtype", [pytest.param(*case, id="-".join(case)) for case in cases]


def _grid(variants: dict, shape_of) -> tuple[str, list]:
    """Every variant in every layout its shape has, in every floating dtype; each integer dtype once,
    on the first variant, contiguous (the loss kernels dispatch on floating types)."""
    cases = [(v, layout, d) for v in variants for layout in _layouts_of(shape_of(variants[v])) for d in FLOATS]
    cases += [(next(iter(variants)), "contiguous", d) for d in INTEGERS]
    return _params(cases)


# -- inputs, torch's results, comparisons -----------------------------------------------------------------

def _dtype(name: str) -> torch.dtype:
    return FLOATS.get(name) or INTEGERS[name]


def _draw(shape, dtype: torch.dtype, seed: int, scale: float = 1.0) -> torch.Tensor:
    """``scale`` times standard normal values, rounded to a floating dtype; for an integer dtype,
    the same values truncated toward zero."""
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g, dtype=torch.float64)).to(dtype)


def _classes(shape, seed: int, ignored: bool = False) -> torch.Tensor:
    """Class-index targets for an input of ``shape`` (N, C, ...): shape (N, ...); with ``ignored``,
    every third position at the ignore index 3."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, shape[1], shape[:1] + shape[2:], generator=g)
    if ignored:
        target.view(-1)[::3] = 3
    return target


def _class_weights(c: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.5 + torch.rand(c, generator=g, dtype=torch.float64)).to(dtype)


def _float_reference(t: torch.Tensor) -> torch.Tensor:
    """The reference's copy of an input (not of a class-index target): float64 on the CPU, an
    integer input too, since the loss formulas divide and take logarithms."""
    return reference_input(t, integers=torch.float64)


def _check(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, msg: str, error) -> None:
    """torch's ``actual`` against the float64 ``expected``: for bfloat16 and float16, within
    ``rounded_result_bound`` (``error``: a callable returning the computation's error, computed only
    there); for float32 and float64, ``assert_close``. An integer input torch accepted is judged by
    the dtype of the result it returned, exactly if that is an integer dtype."""
    actual = actual.detach().cpu()
    if not actual.dtype.is_floating_point:
        assert torch.equal(actual.double(), expected), f"{msg}: {actual.dtype} result not exact"
    elif actual.dtype in REDUCED:
        assert actual.dtype == dtype, f"{msg}: dtype {actual.dtype}, expected {dtype}"
        assert_close_rounded(actual, expected, rounded_result_bound(dtype, expected, error()), msg)
    else:
        assert actual.dtype == dtype or not dtype.is_floating_point, f"{msg}: dtype {actual.dtype}, expected {dtype}"
        assert_close(actual, expected, actual.dtype, msg)


def _leaf(t: torch.Tensor) -> torch.Tensor:
    return t.detach().requires_grad_(t.is_floating_point())


# -- log_softmax ---------------------------------------------------------------------------------------

# (shape, dim): the classes last, first, and at dim 1 of an image-shaped input
LOG_SOFTMAX = {
    "b1_c1": ((1, 1), 1),
    "c7": ((3, 7), 1),
    "c17": ((2, 17), 1),
    "c33": ((4, 33), 1),
    "c65": ((3, 65), 1),
    "classes_first_c17": ((17, 3), 0),
    "nchw_dim1_c7": ((2, 7, 3, 5), 1),
    "nchw_dim1_c33": ((1, 33, 2, 3), 1),
}


def log_softmax_error(dtype, expected: torch.Tensor, dim: int) -> torch.Tensor:
    """The computation error of torch's log-softmax in ``dtype``, before its output is rounded.

    y_i = z_i - m - L, m the maximum and L = log S, S = sum_k exp(z_k - m) >= 1 over the C classes.
    Since z_i - m <= 0 and L >= 0, |y_i| = |z_i - m| + L: every term has the sign of y. In float32:
    z_i - m, C exponentials and their sum, the logarithm and the two subtractions, K = C + 4
    operations, on terms bounded by |y_i| + 1 (the sum's relative error becomes an absolute error of
    its logarithm: the +1). The kernel for the last dimension keeps S and L in the dtype
    (aten/src/ATen/native/cpu/LogSoftmaxKernelImpl.h, ``tmp_sum_scalar`` of type scalar_t): two
    roundings, of S (an absolute error u in L) and of L (at most u L <= u |y_i|). So
    A = |y| + 1, K = C + 4, 2 roundings.
    """
    return computation_error(dtype, expected.abs() + 1, terms=expected.shape[dim] + 4, roundings=2)


def log_softmax_backward_error(dtype, grad: torch.Tensor, log_probs: torch.Tensor, dim: int) -> torch.Tensor:
    """The computation error of log-softmax's backward, d z_j = g_j - p_j sum_k g_k, in ``dtype``.

    Terms: g_j and p_j g_k, A_j = |g_j| + p_j sum_k |g_k|, K = C + 2 (the sum, the product, the
    difference) in float32; one rounding, the sum of g kept in the dtype by the last-dimension kernel
    (``scalar_t sum``). Carried in: torch reads p_j = exp(y_j) from its own stored output, off by
    at most delta_j = :func:`stored_result_error` of the forward, so p_j is off by p_j (e^delta_j - 1),
    times |sum_k g_k| <= sum_k |g_k|.
    """
    p = log_probs.exp()
    total = grad.abs().sum(dim=dim, keepdim=True)
    delta = stored_result_error(dtype, log_probs, log_softmax_error(dtype, log_probs, dim))
    carried = total * p * torch.expm1(delta)
    return computation_error(dtype, grad.abs() + p * total, terms=log_probs.shape[dim] + 2, roundings=1) + carried


@pytest.mark.parametrize(*_grid(LOG_SOFTMAX, lambda variant: variant[0]))
def test_log_softmax(variant, layout, dtype, device):
    shape, dim = LOG_SOFTMAX[variant]
    dtype = _dtype(dtype)
    z = placed(_draw(shape, dtype, 1, scale=3.0), layout, device)
    expected = losses.log_softmax_along(_float_reference(z), dim)
    z_ = _leaf(z)
    out = run_or_skip(lambda: F.log_softmax(z_, dim), f"log_softmax in {dtype}")
    _check(out, expected, dtype, "forward", lambda: log_softmax_error(dtype, expected, dim))
    if not dtype.is_floating_point:
        return
    grad_out = placed(_draw(shape, dtype, 2), layout, device)
    run_or_skip(lambda: out.backward(grad_out), f"log_softmax's backward in {dtype} (forward checked)")
    g = _float_reference(grad_out)
    _check(z_.grad, losses.log_softmax_backward(g, _float_reference(z), dim), dtype, "d input",
           lambda: log_softmax_backward_error(dtype, g, expected, dim))


# -- nll_loss and cross_entropy -----------------------------------------------------------------------

# input shapes (N, C) or (N, C, H, W): targets (N,) or (N, H, W)
LOSS_SHAPES = {
    "b1_c7": (1, 7),
    "b5_c33": (5, 33),
    "b3_c65": (3, 65),
    "nchw_c7": (2, 7, 2, 2),
    "nchw_c17": (1, 17, 2, 3),
}
# the options: every shape in every layout with the default ("mean"); the others contiguous, on one
# (N, C) and one (N, C, H, W) input
OPTIONS = {
    "mean": {},
    "sum_weighted": {"reduction": "sum", "weight": True},
    "none_weighted_ignore": {"reduction": "none", "weight": True, "ignore_index": 3},
    "mean_weighted_ignore": {"weight": True, "ignore_index": 3},
}
CLASS_INDEX_VARIANTS = {f"{shape}-{option}": (LOSS_SHAPES[shape], option) for shape in LOSS_SHAPES for option in OPTIONS
                        if option == "mean" or shape in ("b5_c33", "nchw_c7")}


def _class_index_grid() -> tuple[str, list]:
    cases = [(v, layout, d) for v, (shape, option) in CLASS_INDEX_VARIANTS.items()
             for layout in (_layouts_of(shape) if option == "mean" else ["contiguous"]) for d in FLOATS]
    cases += [(next(iter(CLASS_INDEX_VARIANTS)), "contiguous", d) for d in INTEGERS]
    return _params(cases)


def _class_index_case(variant: str, layout: str, dtype: torch.dtype, device: str, seed: int):
    """(input shape, the target placed, torch's options, the reference's options)."""
    shape, option = CLASS_INDEX_VARIANTS[variant]
    settings = OPTIONS[option]
    target = _classes(shape, seed, ignored="ignore_index" in settings)
    weight = _class_weights(shape[1], dtype, seed + 1) if settings.get("weight") else None
    options = {"reduction": settings.get("reduction", "mean"), "ignore_index": settings.get("ignore_index", -100),
               "weight": weight.to(device) if weight is not None else None}
    reference_options = dict(options, weight=_float_reference(weight) if weight is not None else None)
    return shape, placed(target, layout, device), options, reference_options


def _positions_kept(target: torch.Tensor, ignore_index: int) -> int:
    return int((target != ignore_index).sum())


def nll_error(dtype, log_probs: torch.Tensor, target: torch.Tensor, options: dict) -> torch.Tensor:
    """The computation error of torch's NLL loss in ``dtype``, before its output is rounded.

    'none': one product -w[y] log p, rounded once, on output: no error before it. 'sum': the M kept
    products summed, K = M. 'mean': that sum divided by W, the sum of the M weights (K = 2 M with
    class weights; without, W is the count of kept positions, exact), the quotient rounded on
    output. The CPU kernels sum in the dtype itself, a cascade of partial sums of type scalar_t
    (aten/src/ATen/native/LossNLL.cpp and LossNLL2d.cpp), so the accumulation is the dtype's, and
    the bound grows as 2 M u. A = the loss of |log p|: every term -w log p has the loss's sign.
    """
    reduction = options["reduction"]
    if reduction == "none":
        return torch.zeros(target.shape, dtype=torch.float64)
    m = _positions_kept(target, options["ignore_index"])
    weight_sum_terms = m if reduction == "mean" and options["weight"] is not None else 0
    absolute = losses.nll_loss(-log_probs.abs(), target, **options)
    return computation_error(dtype, absolute, terms=m + weight_sum_terms, accumulate=dtype)


def nll_backward_error(dtype, grad: torch.Tensor, target: torch.Tensor, options: dict) -> torch.Tensor:
    """The computation error of the NLL loss's backward: -w[y] g / W at each kept target ('mean'),
    -w[y] g otherwise. For 'mean', W is the forward's sum of the M weights (the dtype's cascade sum,
    K = M; without class weights, the exact count) and g / W is rounded before the product with w[y]:
    one rounding, relative to |grad|."""
    if options["reduction"] != "mean":
        return torch.zeros(grad.shape, dtype=torch.float64)
    m = _positions_kept(target, options["ignore_index"]) if options["weight"] is not None else 0
    return computation_error(dtype, grad.abs(), terms=m, roundings=1, accumulate=dtype)


@pytest.mark.parametrize(*_class_index_grid())
def test_nll_loss(variant, layout, dtype, device):
    dtype = _dtype(dtype)
    shape, target, options, ref_options = _class_index_case(variant, layout, dtype, device, seed=3)
    log_probs = losses.log_softmax_along(_draw(shape, torch.float64, 4, scale=3.0), 1).to(dtype)
    x = placed(log_probs, layout, device)
    ref_x, ref_target = _float_reference(x), target.cpu()
    x_ = _leaf(x)
    value = run_or_skip(lambda: F.nll_loss(x_, target, **options), f"nll_loss in {dtype}")
    expected = losses.nll_loss(ref_x, ref_target, **ref_options)
    _check(value, expected, dtype, "value", lambda: nll_error(dtype, ref_x, ref_target, ref_options))
    if not dtype.is_floating_point:
        return
    grad_out = _draw(value.shape, dtype, 5).to(device)
    run_or_skip(lambda: value.backward(grad_out), f"nll_loss's backward in {dtype} (value checked)")
    g = _float_reference(grad_out)
    expected_grad = losses.nll_loss_backward(ref_x, ref_target, **ref_options, grad_output=g)
    _check(x_.grad, expected_grad, dtype, "d input",
           lambda: nll_backward_error(dtype, expected_grad, ref_target, ref_options))


def cross_entropy_error(dtype, log_probs: torch.Tensor, target: torch.Tensor, options: dict) -> torch.Tensor:
    """The computation error of torch's cross-entropy in ``dtype``: the NLL loss of the log-softmax,
    which torch stores in the dtype. Carried in: each stored log p is off by at most delta =
    :func:`stored_result_error` of the log-softmax, which the loss weighs as it weighs log p (the NLL
    loss of -delta); then the NLL loss's own error (:func:`nll_error`) on log p's magnitudes,
    |log p| + delta."""
    delta = stored_result_error(dtype, log_probs, log_softmax_error(dtype, log_probs, 1))
    carried = losses.nll_loss(-delta, target, **options)
    return carried + nll_error(dtype, -(log_probs.abs() + delta), target, options)


def cross_entropy_backward_error(dtype, logits: torch.Tensor, log_probs: torch.Tensor, target: torch.Tensor,
                                 options: dict, grad_output: torch.Tensor) -> torch.Tensor:
    """The computation error of the cross-entropy's backward: the NLL loss's backward gives
    g = d loss / d log p (its error, :func:`nll_backward_error`, is relative to |g|, and log-softmax's
    backward multiplies that relative error into A_j = |g_j| + p_j sum_k |g_k|), and log-softmax's
    backward takes g (:func:`log_softmax_backward_error`, classes at dim 1)."""
    g = losses.nll_loss_backward(log_probs, target, **options, grad_output=grad_output)
    p = log_probs.exp()
    a = g.abs() + p * g.abs().sum(dim=1, keepdim=True)
    relative = nll_backward_error(dtype, torch.ones_like(g), target, options)
    return relative * a + log_softmax_backward_error(dtype, g, log_probs, 1)


@pytest.mark.parametrize(*_class_index_grid())
def test_cross_entropy(variant, layout, dtype, device):
    dtype = _dtype(dtype)
    shape, target, options, ref_options = _class_index_case(variant, layout, dtype, device, seed=6)
    logits = placed(_draw(shape, dtype, 7, scale=3.0), layout, device)
    ref_z, ref_target = _float_reference(logits), target.cpu()
    z_ = _leaf(logits)
    value = run_or_skip(lambda: F.cross_entropy(z_, target, **options), f"cross_entropy in {dtype}")
    log_probs = losses.log_softmax_along(ref_z, 1)
    _check(value, losses.cross_entropy_nd(ref_z, ref_target, **ref_options), dtype, "value",
           lambda: cross_entropy_error(dtype, log_probs, ref_target, ref_options))
    if not dtype.is_floating_point:
        return
    grad_out = _draw(value.shape, dtype, 8).to(device)
    run_or_skip(lambda: value.backward(grad_out), f"cross_entropy's backward in {dtype} (value checked)")
    g = _float_reference(grad_out)
    _check(z_.grad, losses.cross_entropy_nd_backward(ref_z, ref_target, **ref_options, grad_output=g), dtype, "d input",
           lambda: cross_entropy_backward_error(dtype, ref_z, log_probs, ref_target, ref_options, g))


# -- mse_loss ------------------------------------------------------------------------------------------

# (shape, reduction): the chapter's (1, 10) output, an odd one, an image-shaped one
MSE = {
    "chapter_1x10-mean": ((1, 10), "mean"),
    "3x17-mean": ((3, 17), "mean"),
    "nchw_2x7x3x5-mean": ((2, 7, 3, 5), "mean"),
    "3x17-sum": ((3, 17), "sum"),
    "3x17-none": ((3, 17), "none"),
    "nchw_2x7x3x5-sum": ((2, 7, 3, 5), "sum"),
}


def mse_error(dtype, diff: torch.Tensor, reduction: str) -> torch.Tensor:
    """The computation error of torch's MSE loss in ``dtype``, before its output is rounded.

    l_i = d_i^2, d_i = x_i - y_i: the difference rounded to the dtype (the elementwise kernel works
    in scalar_t), then its square: 'none' has one rounding before the output's, relative to
    |l_i| (a relative error u in d is 2u in d^2: counted as 2). 'mean' and 'sum' keep the
    elementwise loss as a tensor of the dtype (one more rounding) and reduce it in float32 (K = n
    terms, and the division by n for 'mean'); every term is >= 0, so A = |loss|."""
    squares = diff * diff
    if reduction == "none":
        return computation_error(dtype, squares, terms=0, roundings=2)
    absolute = squares.sum() / (squares.numel() if reduction == "mean" else 1)
    return computation_error(dtype, absolute, terms=squares.numel() + 1, roundings=3)


def mse_backward_error(dtype, grad: torch.Tensor) -> torch.Tensor:
    """The computation error of the MSE loss's backward, norm (x - y) g, norm = 2/n ('mean') or 2,
    evaluated operation by operation in the dtype (aten's mse_backward kernel, in scalar_t): norm
    rounded to the dtype, x - y rounded, their product rounded, then the product with g rounded on
    output: three roundings, each relative to |grad|."""
    return computation_error(dtype, grad.abs(), terms=0, roundings=3)


def _mse_grid() -> tuple[str, list]:
    cases = [(v, layout, d) for v, (shape, reduction) in MSE.items()
             for layout in (_layouts_of(shape) if reduction == "mean" else ["contiguous"]) for d in FLOATS]
    cases += [(next(iter(MSE)), "contiguous", d) for d in INTEGERS]
    return _params(cases)


@pytest.mark.parametrize(*_mse_grid())
def test_mse_loss(variant, layout, dtype, device):
    shape, reduction = MSE[variant]
    dtype = _dtype(dtype)
    x, y = (placed(_draw(shape, dtype, seed, scale=2.0), layout, device) for seed in (9, 10))
    ref_x, ref_y = _float_reference(x), _float_reference(y)
    x_ = _leaf(x)
    value = run_or_skip(lambda: F.mse_loss(x_, y, reduction=reduction), f"mse_loss in {dtype}")
    _check(value, losses.mse(ref_x, ref_y, reduction), dtype, "value",
           lambda: mse_error(dtype, ref_x - ref_y, reduction))
    if not dtype.is_floating_point:
        return
    grad_out = placed(_draw(value.shape, dtype, 11), layout, device) if value.dim() else torch.ones((), dtype=dtype)
    run_or_skip(lambda: value.backward(grad_out.to(device)), f"mse_loss's backward in {dtype} (value checked)")
    # d/dx of (x - y)^2, times the upstream gradient: 2 (x - y) g, divided by the count for 'mean'
    norm = 2 / ref_x.numel() if reduction == "mean" else 2.0
    expected_grad = norm * (ref_x - ref_y) * _float_reference(grad_out)
    _check(x_.grad, expected_grad, dtype, "d input", lambda: mse_backward_error(dtype, expected_grad))


# -- the bounds catch wrong results ----------------------------------------------------------------------

REDUCED_PARAMS = [pytest.param(d, id=str(d).removeprefix("torch.")) for d in REDUCED]


def _fails(actual, wrong_expected, dtype, error, what):
    with pytest.raises(AssertionError, match="outside the bound"):
        _check(actual, wrong_expected, dtype, what, error)


@pytest.mark.parametrize("dtype", REDUCED_PARAMS)
def test_a_class_left_out_or_a_10_percent_error_fails_the_log_softmax_bound(dtype):
    z = _draw((3, 65), dtype, 1, scale=3.0)
    out = F.log_softmax(z, 1)
    ref_z = _float_reference(z)
    expected = losses.log_softmax_along(ref_z, 1)
    error = lambda: log_softmax_error(dtype, expected, 1)  # noqa: E731
    _check(out, expected, dtype, "the right reference", error)
    # the tail class (the 65th: one past a vector of 64) left out of the normalization
    without_tail = torch.cat([losses.log_softmax_along(ref_z[:, :64], 1),
                              ref_z[:, 64:] - ref_z.amax(1, keepdim=True)], 1)
    _fails(out, without_tail, dtype, error, "last class left out of the sum")
    off = expected.clone()
    off[1, 64] *= 1.1
    _fails(out, off, dtype, error, "one element of the tail 10 % off")


@pytest.mark.parametrize("dtype", REDUCED_PARAMS)
def test_a_neighbours_target_or_a_dropped_position_fails_the_cross_entropy_bound(dtype):
    shape = (2, 7, 2, 3)  # the classes at dim 1
    logits = _draw(shape, dtype, 7, scale=3.0)
    target = _classes(shape, 6)
    ref_z = _float_reference(logits)
    log_probs = losses.log_softmax_along(ref_z, 1)
    options = {"weight": None, "ignore_index": -100}
    per_position = F.cross_entropy(logits, target, reduction="none")
    error = lambda: cross_entropy_error(dtype, log_probs, target, dict(options, reduction="none"))  # noqa: E731
    _check(per_position, losses.cross_entropy_nd(ref_z, target, reduction="none"), dtype, "the right reference", error)
    shifted = target.clone()
    shifted[0, 1, 2] = (shifted[0, 1, 2] + 1) % shape[1]  # one position's target read as the next class
    _fails(per_position, losses.cross_entropy_nd(ref_z, shifted, reduction="none"), dtype, error, "a wrong target")
    # The mean's bound grows with the positions M (the NLL loss sums in the dtype, K = M): a position
    # left out changes the mean by about 1/M, caught while that exceeds about M u (M = 4 here).
    logits, target = logits[:1, :, :, :2], target[:1, :, :2]
    ref_z, log_probs = ref_z[:1, :, :, :2], log_probs[:1, :, :, :2]
    mean = F.cross_entropy(logits, target)
    error = lambda: cross_entropy_error(dtype, log_probs, target, dict(options, reduction="mean"))  # noqa: E731
    _check(mean, losses.cross_entropy_nd(ref_z, target), dtype, "the right reference", error)
    dropped = target.clone()
    dropped[0, 1, 1] = -100  # the last position left out of the mean
    _fails(mean, losses.cross_entropy_nd(ref_z, dropped), dtype, error, "a position left out of the mean")


@pytest.mark.parametrize("dtype", REDUCED_PARAMS)
def test_a_10_percent_error_fails_the_mse_bound(dtype):
    x, y = _draw((3, 17), dtype, 9, scale=2.0), _draw((3, 17), dtype, 10, scale=2.0)
    ref_x, ref_y = _float_reference(x), _float_reference(y)
    out = run_or_skip(lambda: F.mse_loss(x, y, reduction="none"), f"mse_loss in {dtype}")
    expected = losses.mse(ref_x, ref_y, "none")
    error = lambda: mse_error(dtype, ref_x - ref_y, "none")  # noqa: E731
    _check(out, expected, dtype, "the right reference", error)
    off = expected.clone()
    off[off[:, 16].argmax(), 16] *= 1.1  # the last column: the tail of 17 = 16 + 1
    _fails(out, off, dtype, error, "a tail element 10 % off")
