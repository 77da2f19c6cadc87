"""FLOPs per sample (blitzbench.measure.flops) against counts made by hand from the layer shapes.

A convolution's multiply-adds: C_out x H_out x W_out x C_in x k x k; a linear layer's: in x out;
a FLOP count is 2 per multiply-add (FlopCounterMode's convention). Backward computes, per layer,
the gradient of the weights (as many multiply-adds as the forward) and of the layer's input
(as many again), except for the first convolution, whose input (the images) needs no gradient.
Element-wise work (ReLU, pooling, the loss, biases, the optimizer's update) is not counted, so
the optimizer step counts nothing (None).
"""

import pytest

from blitzbench.cases import Case
from blitzbench.measure.flops import flops_per_sample


def conv(c_in, c_out, k, size):
    out = size - k + 1
    return c_out * out * out * c_in * k * k


# Multiply-adds per layer, from each model's layer list (reference_models/models/*.py) and its
# 32x32 input; 2x2 pooling halves the side between the convolutions.
MACS = {
    # Conv2d(1,6,3) on 32 -> 30, pool -> 15; Conv2d(6,16,3) -> 13, pool -> 6; 576-120-84-10
    "chapter_net": [conv(1, 6, 3, 32), conv(6, 16, 3, 15), 576 * 120, 120 * 84, 84 * 10],
    "lenet": [conv(1, 6, 3, 32), conv(6, 16, 3, 15), 576 * 120, 120 * 84, 84 * 10],
    # Conv2d(3,6,5) on 32 -> 28, pool -> 14; Conv2d(6,16,5) -> 10, pool -> 5; 400-120-84-10
    "cifar_net": [conv(3, 6, 5, 32), conv(6, 16, 5, 14), 400 * 120, 120 * 84, 84 * 10],
}


def by_hand(model: str, phase: str) -> float | None:
    macs = MACS[model]
    forward = 2 * sum(macs)
    backward = 2 * sum(macs) + 2 * sum(macs[1:])  # weight gradients + input gradients but the first layer's
    return {"forward": forward, "inference": forward, "backward": backward, "step": None,
            "train_step": forward + backward}[phase]


def test_chapter_net_forward_is_549312_flops_per_sample():
    # 48,600 + 146,016 + 69,120 + 10,080 + 840 = 274,656 multiply-adds (the chapter's Net, section 2)
    assert sum(MACS["chapter_net"]) == 274_656
    assert flops_per_sample(Case("chapter_net", "cpu", 4, "forward")) == 549_312
    assert flops_per_sample(Case("chapter_net", "cpu", 4, "backward")) == 1_001_424
    assert flops_per_sample(Case("cifar_net", "cpu", 4, "forward")) == 1_303_440


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("phase", ["forward", "inference", "backward", "step", "train_step"])
@pytest.mark.parametrize("net", sorted(MACS))
def test_flops_per_sample_match_the_hand_count(net, phase, n):
    # two batch sizes: a count that forgot to divide by the batch (or divided twice) fails one
    assert flops_per_sample(Case(net, "cpu", n, phase)) == by_hand(net, phase)
