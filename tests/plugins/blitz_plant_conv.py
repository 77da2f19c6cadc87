"""Test-only pytest plugin: extra work planted inside the convolution kernels' call path.

Loaded with ``-p blitz_plant_conv`` (tests/plugins on PYTHONPATH): every benchmark model's first
convolution also convolves an eighth of its input batch (at least one sample) with its own weights,
and adds zero times the result's sum to its output. The output and every gradient stay as they
were; the forward pass runs one more convolution and the backward pass one more convolution
backward (weights and input), so the added instructions lie in the convolution kernels (oneDNN's,
whichever instruction set they were built for) and little in torch's own code. A count must call
it "more" in every phase that runs the model (forward, inference, backward, train_step) and "same"
in the optimizer step.
"""

import torch

import blitzbench.measure.workloads as workloads

PLANTED_SHARE = 8  # one sample in this many of the batch is convolved again


def _plant(module, inputs, output):
    x = inputs[0]
    extra = module._conv_forward(x[: max(1, x.shape[0] // PLANTED_SHARE)], module.weight, module.bias)
    return output + 0.0 * extra.sum()


def pytest_configure(config):
    original = workloads.seeded_model

    def seeded_model_with_plant(*args, **kwargs):
        net = original(*args, **kwargs)
        first = next((m for m in net.modules() if isinstance(m, torch.nn.Conv2d)), None)
        if first is not None:  # a model without a convolution is left as it is
            first.register_forward_hook(_plant)
        return net

    workloads.seeded_model = seeded_model_with_plant
