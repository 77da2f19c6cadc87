"""Shapes (the chapter's sections 2 and 3): batches in, (N, 10) out; single samples need unsqueeze(0)."""

import pytest
import torch

from blitzbench.measure.batches import images, seeded_model
from blitzbench.measure.tolerances import assert_close
from reference_models import MODELS


def test_output_shape(model_name, device, batch_size):
    net = seeded_model(model_name, device)
    out = net(images(model_name, batch_size, device))
    assert out.shape == (batch_size, MODELS[model_name].num_classes)


def test_flattened_feature_size(model_name, device, batch_size):
    # 16 * 6 * 6 = 576 for the 3x3 networks (32 -> 30 -> 15 -> 13 -> 6), 16 * 5 * 5 = 400 for
    # cifar_net (32 -> 28 -> 14 -> 10 -> 5): what fc1 receives.
    net = seeded_model(model_name, device)
    seen = []
    net.fc1.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    net(images(model_name, batch_size, device))
    assert seen == [(batch_size, MODELS[model_name].feature_size)]


def test_get_featuresize_counts_all_but_the_batch_dimension():
    net = seeded_model("chapter_net")
    assert net.get_featuresize(torch.zeros(5, 16, 6, 6)) == 576
    assert net.get_featuresize(torch.zeros(1, 3, 4)) == 12


def test_single_sample_through_unsqueeze(model_name, device):
    net = seeded_model(model_name, device)
    batch = images(model_name, 3, device)
    sample = batch[1]  # (C, H, W): one image, no batch dimension
    out = net(sample.unsqueeze(0))
    assert out.shape == (1, MODELS[model_name].num_classes)
    # A sample's output does not depend on the rest of its batch.
    assert_close(out[0], net(batch)[1])


def test_unbatched_input_is_rejected_at_fc1(model_name, device):
    # Since torch 1.11 Conv2d and max_pool2d accept an unbatched (C, H, W) input, so the
    # convolutions run; the networks then flatten with the channel axis taken as the batch
    # (view(-1, features) / flatten(x, 1)), and fc1 gets rows of the wrong width.
    net = seeded_model(model_name, device)
    sample = images(model_name, 1, device)[0]
    assert net.conv1(sample).dim() == 3
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        net(sample)
