"""The data pipeline's transforms and batching from their definitions (the chapter's sections 8 and 10).

Plain numpy and Python arithmetic on the arrays an image was built from; nothing here calls
torchvision or torch.utils.data.

  scaling        a pixel value v of an integer image in [0, MAX] becomes v / MAX (MAX = 255 for
                 8-bit images: ToTensor; the dtype's largest value: v2.ToDtype(..., scale=True))
  normalize      output[c] = (input[c] - mean[c]) / std[c], evaluated exactly in rational numbers
  crop           a window of the image padded on each border (left, top, right, bottom) with the fill
  flip           the mirror image, x[..., ::-1]
  batches        a dataset of n samples cut in order into batches of b: [0, b), [b, 2b), ...; the
                 last one short, or left out with drop_last
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

# ToTensor's docstring (the same text in torchvision 0.19 to 0.29): the PIL modes it scales by 255.
TO_TENSOR_SCALED_MODES = ("L", "LA", "P", "I", "F", "RGB", "YCbCr", "RGBA", "CMYK", "1")


def channels_first(array: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) -> (C, H, W), as ToTensor lays an image out."""
    return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))


def scaled(values: np.ndarray, maximum: float) -> np.ndarray:
    """values / maximum in float64 (one rounding of the exact quotient)."""
    return values.astype(np.float64) / float(maximum)


def rounding_bound(float32_roundings: int, float64_roundings: int) -> float:
    """The largest relative error of a result that went through the given numbers of roundings to
    nearest: (1 + u32)^k (1 + u64)^m - 1, with u = eps / 2 the unit roundoff of each type."""
    u32, u64 = float(np.finfo(np.float32).eps) / 2, float(np.finfo(np.float64).eps) / 2
    return (1 + u32) ** float32_roundings * (1 + u64) ** float64_roundings - 1


def normalize_exact(x: np.ndarray, mean, std) -> np.ndarray:
    """(x[c] - mean[c]) / std[c] for x of shape (C, H, W), computed exactly (every float is a
    rational number) and rounded once to float64 at the end."""
    out = np.empty(x.shape, dtype=np.float64)
    for c in range(x.shape[0]):
        m, s = Fraction(float(mean[c])), Fraction(float(std[c]))
        flat = out[c].reshape(-1)
        for i, value in enumerate(x[c].reshape(-1).tolist()):
            flat[i] = float((Fraction(value) - m) / s)
    return out


def normalize_error_bound(x: np.ndarray, mean, std, unit_roundoff: float) -> np.ndarray:
    """How far a normalization computed in a dtype of unit roundoff u may lie from the exact value.

    The dtype rounds m and s (relative errors d1, d2), the difference (d3) and the quotient (d4):
        out = (x - m - m d1)(1 + d3)(1 + d4) / (s (1 + d2)),   |d_i| <= u,
    so |out - exact| <= (3 u |x - m| + u |m|) / |s| to first order. The bound is twice that: it
    covers the second-order terms, a division done as a multiplication by 1/s (one rounding more),
    the reference's own final rounding to float64 and the float64 arithmetic evaluating the bound."""
    m = np.asarray(mean, dtype=np.float64).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=np.float64).reshape(-1, 1, 1)
    return 2 * unit_roundoff * (3 * np.abs(x.astype(np.float64) - m) + np.abs(m)) / np.abs(s)


def pad_constant(chw: np.ndarray, left: int, top: int, right: int, bottom: int, fill) -> np.ndarray:
    """The image (..., H, W) with borders of the given widths holding ``fill``."""
    *lead, h, w = chw.shape
    out = np.full((*lead, top + h + bottom, left + w + right), fill, dtype=chw.dtype)
    out[..., top:top + h, left:left + w] = chw
    return out


def matching_windows(output: np.ndarray, padded: np.ndarray) -> list[tuple[int, int]]:
    """Every (top, left) at which the window of ``padded`` of the output's size equals ``output``."""
    *_, h, w = output.shape
    *_, ph, pw = padded.shape
    return [(top, left) for top in range(ph - h + 1) for left in range(pw - w + 1)
            if np.array_equal(padded[..., top:top + h, left:left + w], output)]


def mirror(chw: np.ndarray) -> np.ndarray:
    """The image flipped left to right: column j becomes column W - 1 - j."""
    return chw[..., ::-1]


def binomial_deviation_bound(n: int, p: float, sigmas: float = 5.0) -> float:
    """The largest accepted |count - n p| for a count of successes of n independent draws with
    probability p: ``sigmas`` standard deviations, sqrt(n p (1 - p)); zero when p is 0 or 1, where
    the count is certain. Hoeffding's inequality, P(|K - n p| >= t) <= 2 exp(-2 t^2 / n), bounds the
    chance that a correct implementation lands outside: at p = 0.5 and 5 sigmas, 2 exp(-12.5) < 1e-5."""
    return sigmas * math.sqrt(n * p * (1 - p))


def sequential_batches(n: int, batch_size: int, drop_last: bool) -> list[range]:
    """The index ranges a loader without shuffling yields: full batches in order, then the short
    remainder unless ``drop_last``."""
    full, rest = divmod(n, batch_size)
    batches = [range(i * batch_size, (i + 1) * batch_size) for i in range(full)]
    if rest and not drop_last:
        batches.append(range(full * batch_size, n))
    return batches
