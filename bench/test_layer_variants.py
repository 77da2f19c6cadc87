"""The chapter's layers (section 2: F.conv2d, F.linear, F.max_pool2d, F.relu) in every variant torch
has a kernel for: each dtype the operation accepts on the device, each memory layout, sizes around
the vector widths; forward and backward, against the from-definition references of
reference_models.references.layers, computed in float64 from the same, already rounded, inputs.

bench/test_layers.py checks float64 and float32 on contiguous tensors; a check of one variant
vouches for no other, so here:

- dtypes: float64 and float32 (blitzbench.measure.tolerances.assert_close); bfloat16 and float16,
  each element held to a bound derived from the dtype's unit roundoff and the number of terms
  summed (``computation_error`` and ``rounded_result_bound`` in blitzbench.measure.tolerances),
  against the reference rounded to the dtype; every integer dtype, exactly. Where the release
  raises "not implemented for" a dtype, the case skips with torch's message.
- layouts: contiguous; channels_last (4-d tensors); strided (every dimension taken with step 2
  from a tensor twice as large); reversed (the dimensions stored in reverse order: a transposed
  matrix, an image with the batch innermost). The layout applies to every tensor argument, the
  upstream gradient included.
- sizes: channel and feature counts 1, 7, 8, 15, 16, 17, 31, 32, 33, 64, 65 (a vector's worth of
  float32, bfloat16 or int8 and one more, so that both the vectorized block and the scalar tail
  run), batch one, odd heights and widths.
- max_pool2d: ties (ReLU'd inputs: whole windows of zeros) and NaN, which torch's max pooling
  propagates as torch.max does (a window holding NaN gives NaN, and its index is the NaN's); the
  values, the indices of ``return_indices=True`` and the result without autograd (another kernel).

The last tests plant errors in a reference (a term of the sum left out, one element 10 % off, a
wrong index) and check that the comparison catches each: the bounds are tight enough to matter.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from blitzbench.measure.tolerances import (assert_close, assert_close_rounded, computation_error,
                                           rounded_result_bound)
from blitzbench.variants import FLOATS, INTEGERS, LAYOUTS, REDUCED, placed, reference_input, run_or_skip
from reference_models.references import layers

# -- layouts --------------------------------------------------------------------------------------------

IMAGE_LAYOUTS = list(LAYOUTS)
MATRIX_LAYOUTS = ["contiguous", "strided", "reversed"]


def _grid(*axes: tuple[str, list], keep=lambda *values: True) -> tuple[str, list]:
    """``parametrize``'s arguments for the product of named axes, less the combinations ``keep``
    drops; each case's id joins its values."""
    combos = [()]
    for _, values in axes:
        combos = [c + (v,) for c in combos for v in values]
    return ",".join(name for name, _ in axes), [pytest.param(*c, id="-".join(c)) for c in combos if keep(*c)]


# -- inputs, torch's results, comparisons -----------------------------------------------------------------

def _draw(shape, dtype: torch.dtype, seed: int, integers: str = "small") -> torch.Tensor:
    """Standard normal values rounded to a floating dtype. For an integer dtype: "small", values in
    -1..1 (0..1 unsigned), so that no sum of products of these sizes leaves the dtype's range;
    "full", anywhere in the dtype's range (for routines that only compare and copy)."""
    g = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    if integers == "full":
        info = torch.iinfo(dtype)
        return torch.randint(info.min, info.max, shape, generator=g, dtype=torch.int64).to(dtype)
    return torch.randint(0 if dtype == torch.uint8 else -1, 2, shape, generator=g).to(dtype)


def _abs(t: torch.Tensor) -> torch.Tensor:
    return reference_input(t).abs()


def _check(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, msg: str, error=None) -> None:
    """torch's ``actual`` in ``dtype`` against the float64 (int64) reference ``expected``: exact for
    integers, and wherever ``error`` is None (each result element copies an input element: pooling,
    ReLU, a gradient routed alone to its element); else within ``rounded_result_bound`` for bfloat16 and float16 (``error``: a callable
    returning ``computation_error``, computed only there), and ``assert_close`` for float32 and float64."""
    assert actual.dtype == dtype, f"{msg}: dtype {actual.dtype}, expected {dtype}"
    actual = actual.detach().cpu()
    if not dtype.is_floating_point:
        info = torch.iinfo(dtype)
        assert info.min <= expected.min() and expected.max() <= info.max, f"{msg}: the inputs overflow {dtype}"
        assert torch.equal(actual, expected.to(dtype)), f"{msg}: not equal to the exact integer result"
    elif error is None:
        assert torch.equal(actual.isnan(), expected.isnan()), f"{msg}: NaN in other places than expected"
        assert torch.equal(actual.double().nan_to_num(0.0), expected.to(dtype).double().nan_to_num(0.0)), \
            f"{msg}: not exactly the expected values"
    elif dtype in REDUCED:
        assert_close_rounded(actual, expected, rounded_result_bound(dtype, expected, error()), msg)
    else:
        assert_close(actual, expected, dtype, msg)


def _leaves(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """Autograd leaves with the same values and layout (integer tensors stay plain)."""
    return [t.detach().requires_grad_(t.is_floating_point()) for t in tensors]


def _assert_channels_last_kept(out: torch.Tensor, x: torch.Tensor, layout: str, routine: str) -> None:
    # "Operators that preserve the memory format" (PyTorch's channels_last tutorial) include
    # convolution, pooling and the pointwise ones: a channels_last input gives a channels_last output.
    # With one channel (or 1x1 images) the input is contiguous as well, and either format is right.
    if layout == "channels_last" and not x.is_contiguous():
        assert out.is_contiguous(memory_format=torch.channels_last), \
            f"{routine} on a channels_last input returned strides {out.stride()}"


# -- conv2d ------------------------------------------------------------------------------------------------

# (batch, in channels, out channels, kernel, stride, padding, height, width)
CONVOLUTIONS = {
    "b1_c1_o6": (1, 1, 6, 3, 1, 0, 8, 8),           # the chapter's conv1, batch one
    "c7_o16_padded": (2, 7, 16, 3, 1, 1, 7, 9),
    "c33_o15_stride2": (2, 33, 15, 3, 2, 0, 9, 8),
    "c32_o65_1x1": (3, 32, 65, 1, 1, 0, 5, 3),     # a 1x1 kernel: a matrix product per position
}
CONV_GRID = _grid(("config", list(CONVOLUTIONS)), ("layout", IMAGE_LAYOUTS), ("dtype", [*FLOATS, *INTEGERS]),
                  keep=lambda config, layout, dtype: dtype in FLOATS or config in ("b1_c1_o6", "c33_o15_stride2"))


@pytest.mark.parametrize(*CONV_GRID)
def test_conv2d(config, layout, dtype, device):
    n, c, o, k, stride, padding, h, w = CONVOLUTIONS[config]
    dtype = FLOATS.get(dtype) or INTEGERS[dtype]
    x, weight, bias = (placed(_draw(shape, dtype, seed), layout, device)
                       for shape, seed in (((n, c, h, w), 1), ((o, c, k, k), 2), ((o,), 3)))
    ref_x, ref_w, ref_b = map(reference_input, (x, weight, bias))
    expected = layers.conv2d(ref_x, ref_w, ref_b, stride, padding)
    x_, w_, b_ = _leaves(x, weight, bias)
    out = run_or_skip(lambda: F.conv2d(x_, w_, b_, stride, padding), f"conv2d in {dtype}")
    _assert_channels_last_kept(out, x, layout, "conv2d")
    _check(out, expected, dtype, "forward",
           lambda: computation_error(dtype, layers.conv2d(_abs(x), _abs(weight), _abs(bias), stride, padding),
                                     terms=c * k * k + 1))
    if not dtype.is_floating_point:
        return
    grad_out = placed(_draw(out.shape, dtype, 4), layout, device)
    run_or_skip(lambda: out.backward(grad_out), f"conv2d's backward in {dtype} (forward checked)")
    ex, ew, eb = layers.conv2d_backward(reference_input(grad_out), ref_x, ref_w, stride, padding)
    ax, aw, ab = layers.conv2d_backward(_abs(grad_out), _abs(x), _abs(weight), stride, padding)
    positions = n * out.shape[2] * out.shape[3]
    _check(x_.grad, ex, dtype, "d input", lambda: computation_error(dtype, ax, terms=o * k * k))
    _check(w_.grad, ew, dtype, "d weight", lambda: computation_error(dtype, aw, terms=positions))
    _check(b_.grad, eb, dtype, "d bias", lambda: computation_error(dtype, ab, terms=positions))


# -- linear ------------------------------------------------------------------------------------------------

# (batch, in features, out features)
LINEARS = {
    "b1_in7_out8": (1, 7, 8),
    "b3_in16_out15": (3, 16, 15),
    "b5_in17_out31": (5, 17, 31),
    "b2_in33_out64": (2, 33, 64),
    "b4_in65_out32": (4, 65, 32),
}
LINEAR_GRID = _grid(("config", list(LINEARS)), ("layout", MATRIX_LAYOUTS), ("dtype", [*FLOATS, *INTEGERS]),
                    keep=lambda config, layout, dtype: dtype in FLOATS or config in ("b1_in7_out8", "b4_in65_out32"))


@pytest.mark.parametrize(*LINEAR_GRID)
def test_linear(config, layout, dtype, device):
    n, i, o = LINEARS[config]
    dtype = FLOATS.get(dtype) or INTEGERS[dtype]
    x, weight, bias = (placed(_draw(shape, dtype, seed), layout, device)
                       for shape, seed in (((n, i), 7), ((o, i), 8), ((o,), 9)))
    ref_x, ref_w, ref_b = map(reference_input, (x, weight, bias))
    x_, w_, b_ = _leaves(x, weight, bias)
    out = run_or_skip(lambda: F.linear(x_, w_, b_), f"linear in {dtype}")
    _check(out, layers.linear(ref_x, ref_w, ref_b), dtype, "forward",
           lambda: computation_error(dtype, layers.linear(_abs(x), _abs(weight), _abs(bias)), terms=i + 1))
    if not dtype.is_floating_point:
        return
    grad_out = placed(_draw(out.shape, dtype, 10), layout, device)
    run_or_skip(lambda: out.backward(grad_out), f"linear's backward in {dtype} (forward checked)")
    ex, ew, eb = layers.linear_backward(reference_input(grad_out), ref_x, ref_w)
    ax, aw, ab = layers.linear_backward(_abs(grad_out), _abs(x), _abs(weight))
    _check(x_.grad, ex, dtype, "d input", lambda: computation_error(dtype, ax, terms=o))
    _check(w_.grad, ew, dtype, "d weight", lambda: computation_error(dtype, aw, terms=n))
    _check(b_.grad, eb, dtype, "d bias", lambda: computation_error(dtype, ab, terms=n))


# -- max_pool2d --------------------------------------------------------------------------------------------

# (batch, channels, height, width, kernel, stride)
POOLS = {
    "b1_c1_5x5": (1, 1, 5, 5, 2, 2),            # batch one, odd size: the last row and column in no window
    "c17_7x6_k3s2": (2, 17, 7, 6, 3, 2),        # overlapping windows: an element can take several gradients
    "c65_4x5": (1, 65, 4, 5, 2, 2),
}
# random: standard normal draws, or integers anywhere in the dtype's range; ties_nan: ReLU'd draws
# (windows of equal zeros) and one NaN in every other (n, c) plane, at most one per window.
POOL_GRID = _grid(("config", list(POOLS)), ("layout", IMAGE_LAYOUTS), ("inputs", ["random", "ties_nan"]),
                  ("dtype", [*FLOATS, *INTEGERS]),
                  keep=lambda config, layout, inputs, dtype:
                  dtype in FLOATS or (inputs == "random" and config != "b1_c1_5x5"))


def _pool_input(shape, dtype: torch.dtype, inputs: str) -> torch.Tensor:
    x = _draw(shape, dtype, 5, integers="full")
    if inputs == "ties_nan":
        x = torch.relu(x - 0.5)
        n, c, h, w = shape
        g = torch.Generator().manual_seed(6)
        for plane in range(0, n * c, 2):
            row, col = torch.randint(h, (1,), generator=g), torch.randint(w, (1,), generator=g)
            x[plane // c, plane % c, row, col] = math.nan
    return x


@pytest.mark.parametrize(*POOL_GRID)
def test_max_pool2d(config, layout, inputs, dtype, device):
    n, c, h, w, k, s = POOLS[config]
    dtype = FLOATS.get(dtype) or INTEGERS[dtype]
    x = placed(_pool_input((n, c, h, w), dtype, inputs), layout, device)
    expected, expected_indices = layers.max_pool2d_with_indices(reference_input(x), k, s)
    with torch.no_grad():
        plain = run_or_skip(lambda: F.max_pool2d(x, k, s), f"max_pool2d in {dtype}")
    _assert_channels_last_kept(plain, x, layout, "max_pool2d")
    _check(plain, expected, dtype, "forward without autograd")
    (x_,) = _leaves(x)
    out, indices = run_or_skip(lambda: F.max_pool2d(x_, k, s, return_indices=True), f"max_pool2d in {dtype}")
    _check(out, expected, dtype, "forward with indices")
    assert torch.equal(indices.cpu(), expected_indices), "return_indices: not the position of each window's maximum"
    if not dtype.is_floating_point:
        return
    grad_out = placed(_draw(out.shape, dtype, 7), layout, device)
    run_or_skip(lambda: out.backward(grad_out), f"max_pool2d's backward in {dtype} (forward checked)")
    windows_per_element = math.ceil(k / s) ** 2  # 1: each gradient lands alone, a copy
    expected_grad = layers.max_pool2d_backward_at(reference_input(grad_out), expected_indices, x.shape)
    absolute = layers.max_pool2d_backward_at(_abs(grad_out), expected_indices, x.shape)
    # The gradients routed to one element are summed into the dtype's grad_input, in any order, each
    # sum rounded: accumulation in the dtype itself.
    _check(x_.grad, expected_grad, dtype, "d input",
           None if windows_per_element == 1 else
           lambda: computation_error(dtype, absolute, terms=windows_per_element, accumulate=dtype))


# -- relu --------------------------------------------------------------------------------------------------

RELU_SHAPES = {
    "one_element": (1, 1, 1, 1),
    "2x17x5x3": (2, 17, 5, 3),  # 510 elements: several vectors and a tail, in every dtype
}
RELU_GRID = _grid(("shape", list(RELU_SHAPES)), ("layout", IMAGE_LAYOUTS), ("dtype", [*FLOATS, *INTEGERS]))


@pytest.mark.parametrize(*RELU_GRID)
def test_relu(shape, layout, dtype, device):
    # relu(x) = max(x, 0) and its derivative [x > 0] (0 at the kink) copy or zero each element: exact
    # in every dtype.
    dtype = FLOATS.get(dtype) or INTEGERS[dtype]
    base = _draw(RELU_SHAPES[shape], dtype, 11, integers="full")
    if dtype.is_floating_point:
        base.view(-1)[::5] = 0.0  # the kink
    x = placed(base, layout, device)
    ref_x = reference_input(x)
    (x_,) = _leaves(x)
    out = run_or_skip(lambda: F.relu(x_), f"relu in {dtype}")
    _assert_channels_last_kept(out, x, layout, "relu")
    _check(out, layers.relu(ref_x), dtype, "forward")
    in_place = placed(base, layout, device)
    run_or_skip(lambda: F.relu(in_place, inplace=True), f"relu_ in {dtype}")
    _check(in_place, layers.relu(ref_x), dtype, "forward in place")
    if not dtype.is_floating_point:
        return
    grad_out = placed(_draw(out.shape, dtype, 12), layout, device)
    run_or_skip(lambda: out.backward(grad_out), f"relu's backward in {dtype} (forward checked)")
    _check(x_.grad, layers.relu_backward(reference_input(grad_out), ref_x), dtype, "d input")


# -- the bounds catch wrong results ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [pytest.param(d, id=str(d).removeprefix("torch.")) for d in REDUCED])
def test_a_dropped_tail_term_or_a_10_percent_error_fails_the_conv2d_and_linear_bounds(dtype):
    """The scalar tail of a vectorized loop left out, or one element 10 % off, is outside the bound."""
    # conv2d, channels_last, 33 input channels (a vector of bfloat16 on AVX-512 and one more)
    x = _draw((2, 33, 6, 6), dtype, 1).contiguous(memory_format=torch.channels_last)
    weight = _draw((17, 33, 3, 3), dtype, 2).contiguous(memory_format=torch.channels_last)
    bias = _draw((17,), dtype, 3)
    out = F.conv2d(x, weight, bias)
    ref_x, ref_w, ref_b = map(reference_input, (x, weight, bias))
    expected = layers.conv2d(ref_x, ref_w, ref_b)
    error = computation_error(dtype, layers.conv2d(_abs(x), _abs(weight), _abs(bias)), terms=33 * 9 + 1)
    _check(out, expected, dtype, "the right reference", lambda: error)
    without_tail = layers.conv2d(ref_x[:, :32], ref_w[:, :32], ref_b)
    with pytest.raises(AssertionError, match="outside the bound"):
        _check(out, without_tail, dtype, "last input channel left out", lambda: error)
    off = expected.clone()
    n, h, w = torch.unravel_index(off[:, -1].abs().argmax(), off[:, -1].shape)
    off[n, -1, h, w] *= 1.1
    with pytest.raises(AssertionError, match="outside the bound"):
        _check(out, off, dtype, "one element of the last output channel 10 % off", lambda: error)

    # linear, 65 input features: the last one left out
    x, weight, bias = _draw((4, 65), dtype, 7), _draw((32, 65), dtype, 8), _draw((32,), dtype, 9)
    out = F.linear(x, weight, bias)
    ref_x, ref_w, ref_b = map(reference_input, (x, weight, bias))
    error = computation_error(dtype, layers.linear(_abs(x), _abs(weight), _abs(bias)), terms=66)
    _check(out, layers.linear(ref_x, ref_w, ref_b), dtype, "the right reference", lambda: error)
    with pytest.raises(AssertionError, match="outside the bound"):
        _check(out, layers.linear(ref_x[:, :64], ref_w[:, :64], ref_b), dtype, "last feature left out", lambda: error)


def test_a_wrong_pooling_index_or_a_dropped_nan_fails():
    x = _pool_input((2, 3, 6, 6), torch.bfloat16, "ties_nan").contiguous(memory_format=torch.channels_last)
    out, indices = F.max_pool2d(x, 2, return_indices=True)
    expected, expected_indices = layers.max_pool2d_with_indices(reference_input(x), 2)
    assert torch.equal(indices, expected_indices)
    # the last of several equal maxima instead of the first: another index, the same value
    flipped = x.flip(-1).flip(-2)
    _, last_indices = layers.max_pool2d_with_indices(reference_input(flipped), 2)
    h, w = x.shape[2:]
    last_indices = (h * w - 1 - last_indices).flip(-1).flip(-2)
    assert not torch.equal(indices, last_indices), "the input has no tie whose first and last maxima differ"
    # NaN ignored instead of propagated: the window's largest number
    ignoring_nan = layers.max_pool2d(reference_input(x).nan_to_num(-math.inf), 2)
    with pytest.raises(AssertionError, match="NaN"):
        _check(out, ignoring_nan, torch.bfloat16, "NaN ignored")
