"""torch.utils.data.DataLoader's batching (the chapter's section 8, step 1, and section 10) against
its documentation, over a small TensorDataset whose samples carry their own index, on CPU.

  batch_size   "how many samples per batch to load"; without shuffling the batches hold the
               samples in order, so their concatenation is the dataset
  drop_last    "set to True to drop the last incomplete batch, if the dataset size is not divisible
               by the batch size. If False and the size of dataset is not divisible by the batch
               size, then the last batch will be smaller"
  shuffle      "set to True to have the data reshuffled at every epoch": each epoch visits a
               permutation of the indices, a new one each epoch
  generator    "Generator used by RandomSampler to generate random indexes and multiprocessing to
               generate base_seed for workers": the same seed gives the same epochs
  num_workers  "how many subprocesses to use for data loading": where the samples are loaded
               changes nothing of what the batches hold, nor their order
"""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from reference_models.references import transforms as ref

N = 23  # a prime: no batch size above 1 and below N divides it, so every such loader has a short batch
BATCH_SIZES = {"bs1": 1, "bs5-odd": 5, "bs8-even": 8, "bs23-whole": N, "bs64-larger": 64}
SEEDS = (0, 1)
EPOCHS = 3


def _dataset() -> TensorDataset:
    """Sample i: a (2, 1) float32 image holding i + 0.5 and i + 0.25, and the label i, so that each batch
    names the indices it holds."""
    index = torch.arange(N)
    images = torch.stack([index + 0.5, index + 0.25], dim=1).view(N, 2, 1).float()
    return TensorDataset(images, index)


def _epoch(loader: DataLoader) -> list[list[int]]:
    """One pass: each batch's sample indices, after checking that its images belong to those samples."""
    batches = []
    for images, labels in loader:
        assert labels.dtype == torch.int64 and images.dtype == torch.float32
        assert images.shape == (len(labels), 2, 1), "default_collate stacks the samples along a new first dimension"
        assert torch.equal(images[:, 0, 0], labels.float() + 0.5) and torch.equal(images[:, 1, 0], labels.float() + 0.25)
        batches.append(labels.tolist())
    return batches


def _loader(batch_size, drop_last=False, shuffle=False, seed=None, workers=0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(_dataset(), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      generator=generator, num_workers=workers)


@pytest.mark.parametrize("drop_last", [False, True], ids=["keep_last", "drop_last"])
@pytest.mark.parametrize("batch", list(BATCH_SIZES))
def test_without_shuffle_batches_are_the_dataset_in_order(batch, drop_last):
    b = BATCH_SIZES[batch]
    loader = _loader(b, drop_last)
    expected = [list(r) for r in ref.sequential_batches(N, b, drop_last)]
    assert _epoch(loader) == expected
    assert len(loader) == len(expected), "len(DataLoader) is the number of batches"
    if not drop_last:
        assert sum(expected, []) == list(range(N)), "the concatenation is the dataset"
    assert _epoch(loader) == expected, "a second epoch without shuffling repeats the first"


@pytest.mark.parametrize("drop_last", [False, True], ids=["keep_last", "drop_last"])
@pytest.mark.parametrize("batch", ["bs1", "bs5-odd", "bs64-larger"])
@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed{s}")
def test_seeded_shuffle_is_a_new_permutation_each_epoch(seed, batch, drop_last):
    b = BATCH_SIZES[batch]
    loader = _loader(b, drop_last, shuffle=True, seed=seed)
    epochs = [_epoch(loader) for _ in range(EPOCHS)]
    shape = [len(r) for r in ref.sequential_batches(N, b, drop_last)]  # shuffling reorders, it keeps the sizes
    kept = sum(shape)
    for batches in epochs:
        assert [len(chunk) for chunk in batches] == shape
        order = sum(batches, [])
        assert len(set(order)) == kept and set(order) <= set(range(N)), "an epoch visits each sample at most once"
    orders = [tuple(sum(batches, [])) for batches in epochs]
    if kept:
        # Two uniform permutations of 23 agree with probability 1/23! (~4e-23): a repeat is no reshuffle.
        assert len(set(orders)) == EPOCHS, "an epoch repeated an earlier order: not reshuffled"
    again = _loader(b, drop_last, shuffle=True, seed=seed)
    assert [_epoch(again) for _ in range(EPOCHS)] == epochs, "the same generator seed gave other epochs"


def test_other_seeds_give_other_orders():
    first = [_epoch(_loader(5, shuffle=True, seed=seed)) for seed in SEEDS]
    assert first[0] != first[1], "two seeds gave the same permutation (probability 1/23!)"


@pytest.mark.parametrize("shuffle", [False, True], ids=["in_order", "shuffled"])
@pytest.mark.parametrize("batch", ["bs5-odd", "bs64-larger"])
def test_two_workers_load_the_same_batches_as_the_main_process(batch, shuffle):
    b = BATCH_SIZES[batch]
    seed = SEEDS[0] if shuffle else None
    in_process = _loader(b, shuffle=shuffle, seed=seed)
    with_workers = _loader(b, shuffle=shuffle, seed=seed, workers=2)
    for epoch in range(2):
        assert _epoch(with_workers) == _epoch(in_process), f"epoch {epoch}: num_workers=2 differs from 0"
