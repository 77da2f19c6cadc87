"""Test-only pytest plugin: an extra computation planted in every benchmark model's forward pass.

Loaded with ``-p blitz_plant_forward`` (tests/plugins on PYTHONPATH) by tests/test_instructions.py:
a forward pre-hook computes ``torch.logcumsumexp`` of a slice of the input batch and throws it away.
It adds a few percent of instructions to every call that runs the model's forward (the forward
and train_step phases), and none to the optimizer step, or to the backward phase, whose forward
runs outside the counted region. ``--explain`` must find it by that name.
"""

import torch

import blitzbench.measure.workloads as workloads

PLANTED_OPERATION = "logcumsumexp"
PLANTED_COLUMNS = 8  # of the 32x32 images' last dimension: sized to add a few percent at batch 4


def _plant(module, inputs):
    with torch.no_grad():
        torch.logcumsumexp(inputs[0][..., :PLANTED_COLUMNS], dim=-1)


def pytest_configure(config):
    original = workloads.seeded_model

    def seeded_model_with_plant(*args, **kwargs):
        net = original(*args, **kwargs)
        net.register_forward_pre_hook(_plant)
        return net

    workloads.seeded_model = seeded_model_with_plant
