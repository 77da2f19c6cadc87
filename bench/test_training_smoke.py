"""Training smoke (the chapter's section 6 loop): zero_grad, forward, loss, backward, step on one
fixed batch drives the loss down by a large factor within a few dozen steps.

A network of this size memorises 16 samples; Adam at lr 3e-3 does it in 30 steps from any of
these seeds (the loss falls from ln 10 = 2.3 to about 1e-4). SGD at the chapter's rates needs
hundreds of steps on such a batch, so it is left to the optimizer-equation tests.
"""

import math

import torch

from blitzbench.measure.batches import class_targets, images, seeded_model
from reference_models import training_step as steps

STEPS, BATCH, FACTOR = 30, 16, 100


def test_loss_falls_on_a_fixed_batch(model_name, device):
    net = seeded_model(model_name, device)
    x = images(model_name, BATCH, device)
    target = class_targets(model_name, BATCH, device)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    history = []
    for _ in range(STEPS):
        loss = steps.training_step(net, optimizer, x, target)
        history.append(loss.item())
    assert all(math.isfinite(v) for v in history)
    # Untrained, the loss is near ln(10): the network's outputs are close to uniform.
    assert abs(history[0] - math.log(10)) < 0.5
    assert history[-1] < history[0] / FACTOR, f"loss went {history[0]:.4f} -> {history[-1]:.4f} in {STEPS} steps"
