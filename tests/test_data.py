"""Datasets, splits, normalisation and the batch augmentation of reference_models.data."""

import pytest
import torch

from reference_models import data

# docs/training.md states these (mean, std of the training split's pixels in [0, 1]).
STATED = {"mnist5k": (0.1006, 0.2757), "digits": (0.3059, 0.3241)}


def test_mnist5k_is_500_real_digits_per_class_split_400_100():
    splits = data.load("mnist5k")
    assert splits.train.images.shape == (4000, 1, 32, 32) and splits.train.images.dtype == torch.uint8
    assert splits.test.images.shape == (1000, 1, 32, 32)
    assert splits.train.labels.bincount().tolist() == [400] * 10
    assert splits.test.labels.bincount().tolist() == [100] * 10
    # Padded 28 -> 32 with black borders; the digit itself uses the full 0-255 range.
    border = torch.cat([splits.train.images[..., :2, :].flatten(), splits.train.images[..., -2:, :].flatten(),
                        splits.train.images[..., :2].flatten(), splits.train.images[..., -2:].flatten()])
    assert border.max() == 0 and splits.train.images.max() == 255


def test_splits_are_disjoint_and_fixed():
    splits = data.load("mnist5k")
    train_rows = {bytes(img.numpy()) for img in splits.train.images}
    assert not any(bytes(img.numpy()) in train_rows for img in splits.test.images[:200])
    images = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1)
    labels = torch.arange(40) % 4
    a, b = data.stratified_split(images, labels, 0.2), data.stratified_split(images, labels, 0.2)
    assert torch.equal(a[0].images, b[0].images) and torch.equal(a[1].labels, b[1].labels)
    assert a[1].labels.bincount().tolist() == [2, 2, 2, 2]


def test_digits_are_resized_to_32_and_split_per_class():
    splits = data.load("digits")
    assert len(splits.train) + len(splits.test) == 1797
    assert splits.train.images.shape[1:] == (1, 32, 32)
    counts_test = splits.test.labels.bincount()
    counts_all = counts_test + splits.train.labels.bincount()
    assert ((counts_test.float() / counts_all.float() - 0.2).abs() < 0.02).all()


@pytest.mark.parametrize("name", sorted(STATED))
def test_normalisation_is_the_training_splits_own_and_matches_the_readme(name):
    (mean,), (std,) = data.channel_stats(data.load(name).train)
    assert (round(mean, 4), round(std, 4)) == STATED[name]
    normalised = data.DeviceData.from_splits(data.load(name), "cpu").train_x
    assert abs(normalised.mean().item()) < 1e-4 and abs(normalised.std(unbiased=False).item() - 1) < 1e-4


def test_tutorial_transform_matches_the_device_tensors():
    # The two loops must see the same numbers: PIL -> ToTensor -> Normalize == on-device normalising.
    splits = data.load("mnist5k")
    dataset = data.ImageDataset(splits.train, data.tutorial_transform(splits))
    image, label = dataset[17]
    device_data = data.DeviceData.from_splits(splits, "cpu")
    assert label == splits.train.labels[17].item()
    torch.testing.assert_close(image, device_data.train_x[17])


def test_random_shift_is_a_crop_of_the_padded_image():
    # Reference: pad each image by 2 with the background, crop 32x32 at the drawn offset.
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 3, 32, 32)
    background = torch.tensor([-1.0, -2.0, -3.0])
    shifted = data.random_shift(x, 2, background, g)
    offsets = torch.randint(0, 5, (2, 6), generator=torch.Generator().manual_seed(3))
    for i in range(6):
        padded = background.view(3, 1, 1).expand(3, 36, 36).clone()
        padded[:, 2:34, 2:34] = x[i]
        dy, dx = offsets[0, i].item(), offsets[1, i].item()
        assert torch.equal(shifted[i], padded[:, dy:dy + 32, dx:dx + 32])


def test_flips_are_for_cifar10_only():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 32 * 32, dtype=torch.float32).view(2, 1, 32, 32).repeat(32, 1, 1, 1)
    names = {type(t).__name__ for t in data.augmentation_for("cifar10")}
    assert "RandomHorizontalFlip" in names
    assert "RandomHorizontalFlip" not in {type(t).__name__ for t in data.augmentation_for("mnist5k")}
    flipped = data.random_flip(x, g)
    n_flipped = sum(torch.equal(f, o.flip(2)) for f, o in zip(flipped, x))
    assert 0 < n_flipped < 64


def test_a_missing_dataset_says_which_files_are_expected_where(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_ROOT_ENV, raising=False)
    assert "--data-root" in data.missing_files("cifar10", None)
    reason = data.missing_files("cifar10", tmp_path)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in reason and "test_batch" in reason
    with pytest.raises(data.DataUnavailable, match="MNIST/raw/train-images-idx3-ubyte"):
        data.load("mnist", tmp_path)
    with pytest.raises(ValueError, match="accepted: mnist5k, digits"):
        data.load("imagenet")


def test_fake_data_is_torchvisions_fakedata():
    splits = data.load("fake")
    assert splits.train.images.shape == (2000, 1, 32, 32) and len(splits.test) == 500
    assert splits.train.labels.max() < 10


def _write_idx(path, magic, array):
    import struct

    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">i", magic) + b"".join(struct.pack(">i", d) for d in array.shape)
    path.write_bytes(header + array.astype("uint8").tobytes())


def test_mnist_is_read_from_a_local_folder_in_torchvisions_layout(tmp_path):
    # A tiny MNIST in torchvision's raw idx format: the loader must read it with download=False.
    import numpy as np

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        _write_idx(tmp_path / "MNIST" / "raw" / f"{prefix}-images-idx3-ubyte", 2051, rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / "MNIST" / "raw" / f"{prefix}-labels-idx1-ubyte", 2049, np.arange(n) % 10)
    assert data.missing_files("mnist", tmp_path) is None
    splits = data.load("mnist", tmp_path)
    assert splits.train.images.shape == (30, 1, 32, 32) and splits.test.images.shape == (10, 1, 32, 32)
    assert splits.train.labels.tolist() == [i % 10 for i in range(30)]
    assert splits.train.images[:, :, :2].max() == 0  # padded 28 -> 32
