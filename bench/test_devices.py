"""Training on a GPU (the chapter's section 9): an accelerator computes what the CPU computes.

Forward, gradients and an SGD-with-momentum step on CUDA agree with the CPU's within float32
tolerance (TF32 off, see blitzbench.measure.devices.ieee_float32). Skipped with the reason without CUDA.
"""

import torch

from blitzbench.measure.batches import class_targets, images, seeded_model
from blitzbench.measure.tolerances import assert_close
from reference_models import training_step as steps


def _train_step(model_name, device, batch_size):
    """One training step (reference_models.training_step, at its CHECK_LR); the logits and the
    gradients it computed, and the parameters after it."""
    net = seeded_model(model_name, device)
    optimizer = torch.optim.SGD(net.parameters(), lr=steps.CHECK_LR, momentum=steps.MOMENTUM)
    x = images(model_name, batch_size, device)
    target = class_targets(model_name, batch_size, device)
    logits = []
    steps.gradients(lambda batch: logits.append(net(batch)) or logits[-1], optimizer, x, target)
    grads = {name: p.grad.detach().clone() for name, p in net.named_parameters()}
    optimizer.step()
    return logits[0].detach(), grads, dict(net.named_parameters())


def test_accelerator_agrees_with_cpu(model_name, accelerator, batch_size):
    out_cpu, grads_cpu, params_cpu = _train_step(model_name, "cpu", batch_size)
    out_acc, grads_acc, params_acc = _train_step(model_name, accelerator, batch_size)
    assert out_acc.device.type == accelerator
    assert_close(out_acc, out_cpu.double(), torch.float32, "logits")
    for name in grads_cpu:
        assert_close(grads_acc[name], grads_cpu[name].double(), torch.float32, f"d {name}")
        assert_close(params_acc[name], params_cpu[name].double(), torch.float32, f"{name} after the step")
