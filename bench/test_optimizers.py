"""Optimizer steps (the chapter's section 6) against their update equations, over several steps:
torch.optim.SGD in every combination of momentum, dampening, Nesterov, weight decay and
maximize; Adam with and without AMSGrad and weight decay; the chapter's manual update."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from blitzbench.measure.batches import class_targets, images, seeded_model
from blitzbench.measure.tolerances import assert_close
from reference_models.references.optimizers import ReferenceAdam, ReferenceSGD

STEPS = 4
# torch's per-tensor loop and its multi-tensor (foreach) kernels are separate implementations.
IMPLEMENTATIONS = [pytest.param(False, id="for_loop"), pytest.param(True, id="foreach")]


def _sgd_configs():
    for momentum, dampening, nesterov, weight_decay, maximize in itertools.product(
            [0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.01], [False, True]):
        if nesterov and (momentum == 0 or dampening != 0):
            continue  # torch.optim.SGD rejects Nesterov without momentum or with dampening
        config = dict(lr=0.05, momentum=momentum, dampening=dampening, nesterov=nesterov,
                      weight_decay=weight_decay, maximize=maximize)
        name = "-".join(f"{k}{v}" if not isinstance(v, bool) else (k if v else f"no_{k}")
                        for k, v in config.items() if k != "lr")
        yield pytest.param(config, id=name)


def _adam_configs():
    for amsgrad, weight_decay, maximize in itertools.product([False, True], [0.0, 0.01], [False, True]):
        config = dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay, amsgrad=amsgrad,
                      maximize=maximize)
        yield pytest.param(config, id=f"amsgrad{int(amsgrad)}-weight_decay{weight_decay}-maximize{int(maximize)}")


def _run_against_reference(make_optimizer, reference, device):
    """STEPS steps of torch's optimizer on chapter_net (float64), each on a new batch; after each,
    the parameters must equal the reference's, which is fed the same gradients."""
    net = seeded_model("chapter_net", device, torch.float64)
    optimizer = make_optimizer(net.parameters())
    ref = reference([p.detach() for p in net.parameters()])
    for step in range(STEPS):
        optimizer.zero_grad()
        x = images("chapter_net", 8, device, torch.float64, seed=step)
        F.cross_entropy(net(x), class_targets("chapter_net", 8, device, seed=step)).backward()
        grads = [p.grad.detach().clone() for p in net.parameters()]
        optimizer.step()
        expected = ref.step(grads)
        for (name, p), e in zip(net.named_parameters(), expected):
            assert_close(p, e, msg=f"step {step + 1}, {name}")
    # The steps moved the weights, so the comparison above was not between two untouched copies.
    assert any(not torch.equal(p.detach().cpu(), q.cpu())
               for p, q in zip(net.parameters(), seeded_model("chapter_net", device, torch.float64).parameters()))


@pytest.mark.parametrize("config", list(_sgd_configs()))
@pytest.mark.parametrize("foreach", IMPLEMENTATIONS)
def test_sgd_equals_update_equations(config, foreach, device):
    _run_against_reference(lambda params: torch.optim.SGD(params, foreach=foreach, **config),
                           lambda params: ReferenceSGD(params, **config), device)


@pytest.mark.parametrize("config", list(_adam_configs()))
@pytest.mark.parametrize("foreach", IMPLEMENTATIONS)
def test_adam_equals_update_equations(config, foreach, device):
    _run_against_reference(lambda params: torch.optim.Adam(params, foreach=foreach, **config),
                           lambda params: ReferenceAdam(params, **config), device)


def test_chapters_manual_update_equals_plain_sgd(device):
    # The tutorial's hand-written step: for f in net.parameters(): f.data.sub_(f.grad.data * lr)
    lr = 0.01
    manual = seeded_model("chapter_net", device, torch.float64)
    with_optim = seeded_model("chapter_net", device, torch.float64)
    optimizer = torch.optim.SGD(with_optim.parameters(), lr=lr)
    for step in range(3):
        x = images("chapter_net", 4, device, torch.float64, seed=step)
        target = class_targets("chapter_net", 4, device, seed=step)
        manual.zero_grad()
        F.cross_entropy(manual(x), target).backward()
        for f in manual.parameters():
            f.data.sub_(f.grad.data * lr)
        optimizer.zero_grad()
        F.cross_entropy(with_optim(x), target).backward()
        optimizer.step()
        for (name, p), q in zip(manual.named_parameters(), with_optim.parameters()):
            assert_close(p, q, msg=f"step {step + 1}, {name}")
