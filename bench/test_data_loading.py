"""Benchmark: images per second through the data pipeline (the chapter's section 10).

  dataloader-w0/1/2   torch DataLoader over the PIL-image dataset with ToTensor + Normalize,
                      0, 1 or 2 worker processes (persistent, so an epoch's cost is steady-state),
                      batch 64, with and without augmentation (random shifts of up to 2 pixels)
  device_batching     the fast loop's way: normalised tensors on the device, a shuffled index,
                      batches sliced and (optionally) shifted as whole tensors

Each round walks 1,024 mnist5k training images; images/s = 1,024 / the median round.
"""

import pytest
import torch

from blitzbench.figures import iqr_over_median, per_second
from blitzbench.measure import devices
from reference_models import data

IMAGES, BATCH, DATASET = 1024, 64, "mnist5k"
SOURCES = ["dataloader-w0", "dataloader-w1", "dataloader-w2", "device_batching"]


def _dataloader_epoch(workers: int, augment: bool):
    splits = data.load(DATASET)
    subset = data.Split(splits.train.images[:IMAGES], splits.train.labels[:IMAGES])
    loader = data.data_loader(subset, data.tutorial_transform(splits, augment), BATCH, shuffle=True,
                              workers=workers, persistent=True)

    def epoch():
        count = 0
        for x, y in loader:
            count += len(y)
        assert count == IMAGES
        return x

    return epoch


def _device_batching_epoch(device: str, augment: bool):
    tensors = data.DeviceData.from_splits(data.load(DATASET), device)
    x_all, y_all = tensors.train_x[:IMAGES], tensors.train_y[:IMAGES]
    generator = torch.Generator().manual_seed(0)

    def epoch():
        order = torch.randperm(IMAGES, generator=generator).to(device)
        for start in range(0, IMAGES, BATCH):
            idx = order[start:start + BATCH]
            x, _labels = x_all[idx], y_all[idx]  # labels gathered too, as a training loop does
            if augment:
                x = data.augment_batch(DATASET, x, tensors.background, generator)
        devices.synchronize(device)
        return x

    return epoch


@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augmented"])
@pytest.mark.parametrize("source", SOURCES)
def test_data_loading(benchmark, source, augment, device):
    if source != "device_batching" and device != "cpu":
        pytest.skip("DataLoader cases run on the CPU only: decoding and transforms are host work")
    if source != "device_batching" and (reason := data.torchvision_unavailable_reason()):
        pytest.skip(f"the DataLoader pipeline {reason}")
    epoch = (_device_batching_epoch(device, augment) if source == "device_batching"
             else _dataloader_epoch(int(source[-1]), augment))
    last = epoch()  # check before timing: whole batches of normalised 1x32x32 images
    assert last.shape[1:] == (1, 32, 32) and torch.isfinite(last).all()
    benchmark.group = f"data loading: {DATASET}"
    benchmark.pedantic(epoch, rounds=5, warmup_rounds=1, iterations=1)
    info = dict(kind="data_loading", dataset=DATASET, source=source, augment=augment, device=device,
                images=IMAGES, batch_size=BATCH, torch_version=torch.__version__,
                timer="time.perf_counter" + (" after torch.cuda.synchronize" if device == "cuda" else ""))
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        info.update(images_per_s=per_second(IMAGES, stats.stats.median),
                    noise_iqr_over_median=iqr_over_median(stats.stats.iqr, stats.stats.median))
    benchmark.extra_info.update(info)
