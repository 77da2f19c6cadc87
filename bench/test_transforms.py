"""torchvision's transforms of the chapter's data pipeline (section 8, step 1: ToTensor and Normalize;
section 10: the RandomCrop and RandomHorizontalFlip augmentation) against their documentation, in
torchvision.transforms and its transforms.v2 twins, on CPU (they are host work).

ToTensor's docstring, the same text in torchvision 0.19 to 0.29 (transforms.ToTensor, and
transforms.v2.ToTensor, deprecated there):

    Converts a PIL Image or numpy.ndarray (H x W x C) in the range [0, 255] to a torch.FloatTensor
    of shape (C x H x W) in the range [0.0, 1.0] if the PIL Image belongs to one of the modes
    (L, LA, P, I, F, RGB, YCbCr, RGBA, CMYK, 1) or if the numpy.ndarray has dtype = np.uint8

    In the other cases, tensors are returned without scaling.

The list names modes "I" and "F", but torchvision returns them without scaling, by design: its
maintainers say 32-bit integer images are not rescaled (pytorch/vision#317), and the docstring's
list for "F" is an open documentation issue (pytorch/vision#567). The checks follow that stated
behaviour for "I" and "F" (their values kept, int32 and float32), not the list.

So a pixel value v of any other listed mode becomes v / 255 in float32 (mode "1" holds 0 or 255 in Pillow,
becoming 0.0 or 1.0; mode "P" holds palette indices); "I;16" (16-bit unsigned) and ndarrays of other
dtypes keep their values. The v2 pipeline, ToImage() ("this does not scale values") then
ToDtype(torch.float32, scale=True), follows "Dtype and expected value range" of the transforms
documentation: an integer image holds values in [0, MAX_DTYPE] (MAX_DTYPE the dtype's largest
value) and scaling maps them to [0, 1], v / MAX_DTYPE; a float image is left as it is.

Normalize: "output[channel] = (input[channel] - mean[channel]) / std[channel]", out of place.
RandomCrop: "Crop the given image at a random location", after padding each border ("left, top,
right and bottom" for four values) with ``fill``. RandomHorizontalFlip: the image flipped "with a
given probability" p.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image

from reference_models import data
from reference_models.references import transforms as ref

UNAVAILABLE = data.torchvision_unavailable_reason()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"the transforms {UNAVAILABLE}")

SEED = 0
H, W = 8, 37  # 296 pixels: each 8-bit band runs through all 256 values; rows of 37: vector blocks and a tail
INDEX = np.arange(H * W).reshape(H, W)

# Scaled values: a true division by MAX is one float32 rounding; a multiplication by the reciprocal,
# as v2 does it, is three (1/MAX to binary64, to float32, the product), and a 32-bit integer above
# 2^24 is rounded once more on its way to float32. The reference v / MAX in float64 adds a binary64
# rounding to the reciprocal's: at most three float32 and two float64 roundings apart, relative.
SCALED_RTOL = ref.rounding_bound(3, 2)


def _transforms(api):
    import torchvision.transforms as T
    from torchvision.transforms import v2

    return T if api == "transforms" else v2


APIS = ["transforms", "transforms.v2"]


# -- ToTensor: every PIL mode it accepts, and ndarrays ------------------------------------------

@dataclass(frozen=True)
class Picture:
    picture: object          # a PIL image or an ndarray
    pixels: np.ndarray       # (H, W, C): the values it holds (Pillow's convention: "1" holds 0 or 255)
    to_tensor_scales: bool   # ToTensor's docstring: divided by 255 (else returned without scaling)
    maximum: float | None    # what v2.ToDtype(scale=True) maps to 1.0; None: a float image, kept as is


def _eight_bit(bands: int) -> np.ndarray:
    return np.stack([(INDEX * 7 + 31 * c) % 256 for c in range(bands)], axis=-1).astype(np.uint8)


def _with_extremes(values: np.ndarray, extremes) -> np.ndarray:
    values = values.copy()
    values.flat[:len(extremes)] = extremes
    return values


def _pil(mode: str, pixels: np.ndarray, raw: bytes) -> Image.Image:
    image = Image.frombytes(mode, (W, H), raw)
    if mode == "P":
        image.putpalette(list(range(256)) * 3)
    held = np.asarray(image)  # the image holds the intended values (Pillow's own array view)
    assert np.array_equal(held.reshape(H, W, -1).astype(np.float64) * (255 if mode == "1" else 1), pixels), mode
    return image


def _eight_bit_mode(mode: str) -> Picture:
    pixels = _eight_bit(len(Image.new(mode, (1, 1)).getbands()))
    return Picture(_pil(mode, pixels, pixels.tobytes()), pixels, True, 255)


def _mode_1() -> Picture:
    bits = (INDEX % 3 == 0)
    pixels = (bits * 255)[..., None]
    return Picture(_pil("1", pixels, np.packbits(bits, axis=1).tobytes()), pixels, True, 255)


def _mode_i16() -> Picture:
    values = _with_extremes((INDEX * 221) % 65536, [0, 1, 255, 256, 32767, 32768, 65534, 65535])
    return Picture(_pil("I;16", values[..., None], values.astype("<u2").tobytes()), values[..., None], False, 65535)


def _mode_i() -> Picture:
    """0 to 255 (ToTensor's documented range) and large values up to 2^31 - 1 (ToDtype's [0, MAX_DTYPE];
    2^24 + 1 is no float32). Negative values lie in neither documented range: ndarray-int32 has them,
    where the documentation says what becomes of them (returned without scaling)."""
    values = _with_extremes(INDEX % 256, [0, 255, 2**24 + 1, 2**31 - 1])
    return Picture(_pil("I", values[..., None], values.astype("=i4").tobytes()), values[..., None], False, 2**31 - 1)


def _mode_f() -> Picture:
    values = (INDEX % 1021) / 4.0  # 0, 0.25, ..., 255: fractions in the documented [0, 255]
    return Picture(_pil("F", values[..., None], values.astype("=f4").tobytes()), values[..., None], False, None)


def _ndarray(values: np.ndarray, scales: bool, maximum) -> Picture:
    return Picture(values, values.reshape(H, W, -1), scales, maximum)


INPUTS = {
    **{mode: (lambda mode=mode: _eight_bit_mode(mode)) for mode in ("L", "LA", "P", "RGB", "YCbCr", "RGBA", "CMYK")},
    "1": _mode_1,
    "I;16": _mode_i16,
    "I": _mode_i,
    "F": _mode_f,
    "ndarray-uint8-HW": lambda: _ndarray(_eight_bit(1)[..., 0], True, 255),
    "ndarray-uint8-HWC": lambda: _ndarray(_eight_bit(3), True, 255),
    "ndarray-uint16": lambda: _ndarray(_with_extremes((INDEX * 221) % 65536, [0, 32768, 65535]).astype(np.uint16),
                                       False, 65535),
    "ndarray-float32": lambda: _ndarray(_with_extremes(INDEX / 8.0, [-1.5, 0.1, 300.25, 1e10]).astype(np.float32),
                                        False, None),
    "ndarray-int32": lambda: _ndarray(_with_extremes(INDEX, [-2**31, -1, 2**31 - 1]).astype(np.int32), False, None),
}
# v2's scaling is documented for [0, MAX_DTYPE]: negative int32 values lie outside it.
V2_INPUTS = [name for name in INPUTS if name != "ndarray-int32"]
TO_TENSOR_APIS = ["transforms.ToTensor", "functional.to_tensor", "v2.ToTensor"]


def _to_tensor(api: str):
    import torchvision.transforms as T
    import torchvision.transforms.functional as TF
    from torchvision.transforms import v2

    if api == "v2.ToTensor":
        if not hasattr(v2, "ToTensor"):
            import torchvision

            pytest.skip(f"torchvision {torchvision.__version__} has no transforms.v2.ToTensor")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated in favour of ToImage + ToDtype
            return v2.ToTensor()
    return T.ToTensor() if api == "transforms.ToTensor" else TF.to_tensor


def _assert_scaled(out: torch.Tensor, pixels_chw: np.ndarray, maximum: float, what: str) -> None:
    expected = ref.scaled(pixels_chw, maximum)
    actual = out.double().numpy()
    bad = np.abs(actual - expected) > SCALED_RTOL * np.abs(expected)
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} values are not v / {maximum}; first: "
                           f"v = {pixels_chw[bad][0]} became {actual[bad][0]!r}, expected {expected[bad][0]!r}")


def _assert_unchanged(out: torch.Tensor, pixels_chw: np.ndarray, what: str) -> None:
    actual = out.double() if out.is_floating_point() else out.to(torch.int64)
    expected = torch.from_numpy(pixels_chw.astype(np.float64 if out.is_floating_point() else np.int64))
    bad = (actual != expected).numpy()
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} values changed ({out.dtype}); first: "
                           f"{expected.numpy()[bad][0]} became {actual.numpy()[bad][0]}")


@pytest.mark.parametrize("name", list(INPUTS))
@pytest.mark.parametrize("api", TO_TENSOR_APIS)
def test_to_tensor_as_documented(api, name):
    picture = INPUTS[name]()
    out = _to_tensor(api)(picture.picture)
    expected = ref.channels_first(picture.pixels)
    assert tuple(out.shape) == expected.shape, "documented shape: (C x H x W)"
    if picture.to_tensor_scales:
        assert out.dtype == torch.get_default_dtype(), \
            f"{name}: documented a torch.FloatTensor in [0.0, 1.0]; got {out.dtype}, max {out.max().item()}"
        _assert_scaled(out, expected, 255, f"{name} (documented: scaled to [0.0, 1.0])")
    else:
        _assert_unchanged(out, expected, f"{name} (documented: returned without scaling)")


@pytest.mark.parametrize("name", V2_INPUTS)
def test_v2_to_image_then_to_dtype_scale(name):
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    picture = INPUTS[name]()
    image = v2.ToImage()(picture.picture)
    expected = ref.channels_first(picture.pixels)
    assert isinstance(image, tv_tensors.Image) and tuple(image.shape) == expected.shape
    held = expected != 0 if image.dtype == torch.bool else expected  # mode "1" arrives as bits
    _assert_unchanged(image.as_subclass(torch.Tensor), held, f"{name} (ToImage: does not scale values)")
    out = v2.ToDtype(torch.float32, scale=True)(image)
    assert out.dtype == torch.float32 and tuple(out.shape) == expected.shape
    if picture.maximum is None:
        _assert_unchanged(out, expected, f"{name} (a float image: not scaled)")
    else:
        _assert_scaled(out, expected, picture.maximum, f"{name} ({image.dtype}: scaled by its largest value)")


# -- Normalize ------------------------------------------------------------------------------------

CHANNEL_STATS = {  # MNIST's and CIFAR-10's published means and stds (any positive std would do)
    1: ((0.1307,), (0.3081,)),
    3: ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
WIDTHS = {"tail": 3, "blocks+tail": 37}  # vectorised blocks of 4 to 16 elements, and the remainder
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("channels", list(CHANNEL_STATS), ids=lambda c: f"{c}ch")
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("api", APIS)
def test_normalize_is_the_formula(api, dtype, channels, width):
    """Error bound: :func:`reference_models.references.transforms.normalize_error_bound`."""
    from torchvision import tv_tensors

    mean, std = CHANNEL_STATS[channels]
    g = torch.Generator().manual_seed(SEED)
    x = torch.rand(channels, 4, WIDTHS[width], generator=g, dtype=torch.float64).to(DTYPES[dtype])
    x[:, 0, 0] = torch.tensor(mean, dtype=DTYPES[dtype])  # x at the mean: the difference cancels
    if api == "transforms.v2":
        x = tv_tensors.Image(x)  # what v2.ToImage hands on in the v2 pipeline
    before = x.clone()
    out = _transforms(api).Normalize(mean, std)(x)
    assert torch.equal(x, before), "documented: acts out of place"
    assert out.dtype == DTYPES[dtype] and out.shape == x.shape
    xs = x.double().numpy()
    error = np.abs(out.double().numpy() - ref.normalize_exact(xs, mean, std))
    bound = ref.normalize_error_bound(xs, mean, std, torch.finfo(DTYPES[dtype]).eps / 2)
    assert (error <= bound).all(), f"largest error / bound: {(error / bound).max():.3g}"


# -- RandomCrop and RandomHorizontalFlip ----------------------------------------------------------

def _image(kind: str, h: int, w: int):
    """(the transform's input, its pixels as (..., C, H, W)): values 10-250, none equal to a fill."""
    values = np.random.default_rng(SEED).integers(10, 251, size=(3, h, w), dtype=np.uint8)
    if kind == "PIL-L":
        return Image.fromarray(values[0]), values[:1]
    if kind == "PIL-RGB":
        return Image.fromarray(np.ascontiguousarray(values.transpose(1, 2, 0))), values
    if kind == "tensor-uint8-CHW":
        return torch.from_numpy(values.copy()), values
    batch = values[:2, None].astype(np.float32)  # two one-channel images, (2, 1, H, W): leading dimensions
    return torch.from_numpy(batch.copy()), batch


IMAGE_KINDS = ["PIL-L", "PIL-RGB", "tensor-uint8-CHW", "tensor-float32-NCHW"]


def _pixels(out) -> np.ndarray:
    return out.numpy() if isinstance(out, torch.Tensor) else ref.channels_first(np.asarray(out))


CROPS = {  # name: (image H, W), size, padding, fill, borders (left, top, right, bottom)
    "pipeline-32-pad4": ((32, 32), 32, 4, 0, (4, 4, 4, 4)),  # CIFAR-10's RandomCrop(32, padding=4)
    "6x7-pad-l1t2r3b0-fill9": ((8, 10), (6, 7), (1, 2, 3, 0), 9, (1, 2, 3, 0)),
    "5x7-no-padding": ((8, 10), (5, 7), None, 0, (0, 0, 0, 0)),
}
CROP_DRAWS = 60


@pytest.mark.parametrize("kind", IMAGE_KINDS)
@pytest.mark.parametrize("crop", list(CROPS))
@pytest.mark.parametrize("api", APIS)
def test_random_crop_is_one_window_of_the_padded_image(api, crop, kind):
    (h, w), size, padding, fill, borders = CROPS[crop]
    picture, pixels = _image(kind, h, w)
    padded = ref.pad_constant(pixels, *borders, fill)
    transform = _transforms(api).RandomCrop(size, padding=padding, fill=fill)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        outputs = [_pixels(transform(picture)) for _ in range(CROP_DRAWS)]
        torch.manual_seed(SEED)
        again = [_pixels(transform(picture)) for _ in range(5)]
    crop_hw = (size, size) if isinstance(size, int) else size
    offsets = []
    for out in outputs:
        assert out.shape == pixels.shape[:-2] + crop_hw
        windows = ref.matching_windows(out, padded)
        assert len(windows) == 1, f"the crop equals {len(windows)} windows of the padded image, not one"
        offsets.extend(windows)
    assert len(set(offsets)) > 1, f"{CROP_DRAWS} crops all at {offsets[0]}: not a random location"
    assert all(np.array_equal(a, b) for a, b in zip(again, outputs)), "the same seed gave other crops"


FLIP_PROBABILITIES = [0.0, 0.5, 1.0]
FLIP_DRAWS = 2000


@pytest.mark.parametrize("p", FLIP_PROBABILITIES, ids=lambda p: f"p{p}")
@pytest.mark.parametrize("kind", IMAGE_KINDS)
@pytest.mark.parametrize("api", APIS)
def test_random_horizontal_flip_mirrors_at_rate_p(api, kind, p):
    """Each output is the mirror image or the input itself; the count of mirrors over FLIP_DRAWS seeded
    draws lies within :func:`~reference_models.references.transforms.binomial_deviation_bound` of n p."""
    picture, pixels = _image(kind, 3, 5)
    mirrored = ref.mirror(pixels)
    assert not np.array_equal(mirrored, pixels)
    transform = _transforms(api).RandomHorizontalFlip(p=p)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        outputs = [_pixels(transform(picture)) for _ in range(FLIP_DRAWS)]
        torch.manual_seed(SEED)
        again = [_pixels(transform(picture)) for _ in range(20)]
    flipped = [np.array_equal(out, mirrored) for out in outputs]
    unchanged = [np.array_equal(out, pixels) for out in outputs]
    assert all(f or u for f, u in zip(flipped, unchanged)), "an output is neither the mirror image nor the input"
    count = sum(flipped)
    assert abs(count - FLIP_DRAWS * p) <= ref.binomial_deviation_bound(FLIP_DRAWS, p), \
        f"{count} flips in {FLIP_DRAWS} draws at p = {p}"
    assert all(np.array_equal(a, b) for a, b in zip(again, outputs)), "the same seed gave other flips"
