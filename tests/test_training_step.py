"""One training step, the chapter's loop body (section 6, "Updating the weights"): every tool that
trains runs reference_models.training_step.

Each tool is run with the step replaced by a spy that records the call and then does the real
step; a tool that wrote its own zero_grad/forward/loss/backward/step would not call it.
"""

import pytest
import torch

from blitzbench.measure import profiling, workloads
from blitzbench.cases import Case
from reference_models import training_step as steps
from reference_models.train import TrainConfig, train


@pytest.fixture
def spy(monkeypatch):
    calls = []
    real_step, real_gradients = steps.training_step, steps.gradients

    def training_step(*args, **kwargs):
        calls.append("training_step")
        return real_step(*args, **kwargs)

    def gradients(*args, **kwargs):
        calls.append("gradients")
        return real_gradients(*args, **kwargs)

    monkeypatch.setattr(steps, "training_step", training_step)
    monkeypatch.setattr(steps, "gradients", gradients)
    return calls


def test_the_benchmarks_train_step_is_the_one_step(spy):
    workloads.Workload(Case("chapter_net", "cpu", 4, "train_step")).train_step()
    assert spy == ["training_step", "gradients"]  # training_step = gradients, then optimizer.step()


def test_the_profiler_traces_the_one_step(spy):
    profiling.labelled_train_step(workloads.Workload(Case("chapter_net", "cpu", 4, "train_step")))
    assert spy == ["training_step", "gradients"]


@pytest.mark.parametrize("loop, whole_steps", [("tutorial", 1 + 6), ("fast", 1)])
def test_both_training_loops_use_the_one_step(spy, loop, whole_steps):
    # digits: 1,438 training images, 6 batches of 256; the warm-up is one whole step. The fast
    # loop takes the gradients from the one step and steps its optimizer and schedule itself.
    train(TrainConfig(model="chapter_net", dataset="digits", epochs=1, loop=loop, batch_size=256))
    assert spy.count("training_step") == whole_steps
    assert spy.count("gradients") == 1 + 6


def test_the_step_is_zero_grad_forward_loss_backward_step():
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=steps.TUTORIAL_LR)
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1])
    net.weight.grad = torch.full_like(net.weight, 100.0)  # stale gradients: zero_grad must drop them
    before, bias = net.weight.detach().clone(), net.bias.detach().clone()
    loss = steps.training_step(net, optimizer, x, y)
    expected = torch.nn.functional.cross_entropy(x @ before.T + bias, y)  # the loss before the step
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(net.weight, before - steps.TUTORIAL_LR * net.weight.grad)


def test_learning_rates_are_named_in_one_place():
    assert workloads.LEARNING_RATE == steps.TUTORIAL_LR == 0.001
    assert steps.CHECK_LR == 0.01
    from reference_models.train import LOOP_DEFAULTS

    assert LOOP_DEFAULTS["tutorial"]["lr"]["sgd"] == steps.TUTORIAL_LR
