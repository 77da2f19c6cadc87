"""Learning-rate schedulers (the chapter's section 8 training loop, made fast: reference_models.train
steps a OneCycleLR after every optimizer step) against their documented formulas, step by step.

Each case runs the documented order, ``optimizer.step()`` then ``scheduler.step()``, on an
optimizer with two parameter groups of different base learning rates, given as a float, as a
float32 Tensor (``torch.tensor(0.1)``) and as a float64 Tensor. Before every optimizer step it
checks, for each group, ``param_groups[i]['lr']`` and ``scheduler.get_last_lr()[i]`` against the
formula of reference_models.references.schedules, and, for plain SGD (no momentum), that the step
moved each parameter by exactly that learning rate times its gradient. OneCycleLR is checked in the
training loop's settings (pct_start 0.2, the defaults otherwise) for both anneal strategies, two and
three phases, and its momentum cycling on SGD's momentum and on Adam's beta1. SequentialLR is
also checked for which of its schedulers runs at each step. With a Tensor learning rate, the
group's lr must stay the optimizer's own Tensor, and each value get_last_lr() returned must keep
reading the learning rate of its step (the documentation: "copies, and never alias the
optimizer's group['lr']s"). Where a release rejects a Tensor learning rate with an error, the case
skips with that error.

Tolerance: the reference computes the formula in float64 from the base learning rate as the group
holds it (a float32 Tensor's 0.1 is 0.100000001490116...). Torch computes the same value with a few
roundings of the learning rate's type (a Python float is a float64; a Tensor computes in its
dtype); each is a relative error of at most u = eps/2 of a quantity no larger than the schedule's
largest learning rate (``scale``: the base rate, OneCycleLR's max_lr, or 1 for the momentum).
So |torch - formula| <= roundings(t) * eps * scale, where roundings(t) counts, generously (one eps
per operation, twice the u it costs):

  a closed form (LambdaLR, OneCycleLR)      3, or 8 where a cosine and a phase fraction are computed
                                            (OneCycleLR: the fraction, the cosine, 4 operations,
                                            the reference's own);
  a recursive form (StepLR, MultiStepLR,    3 + 2 per update made so far: the learning rate is the
   ExponentialLR, ConstantLR, and the       previous one times a factor (and a power for a repeated
   sequences and chains of them)            milestone); an error made once is carried, unchanged in
                                            relative size, to every later step;
  CosineAnnealingLR                         the recursion eta_t = eta_min + (eta_{t-1} - eta_min) r_t,
                                            r_t = N_t / N_{t-1}, N_t = 1 + cos(pi t / T_max): each
                                            N is off by at most 2 u (absolute: the cosine, the sum),
                                            which costs (eta_{t-1} - eta_min) r_t (2u/N_t + 2u/N_{t-1})
                                            = (base - eta_min) u (1 + r_t); with the quotient,
                                            product, difference and sum (4 u scale) that is at most
                                            (5 + r_t) u scale per step, r_t <= 1 up to T_max and
                                            <= 4 after it: 5 eps scale per step. An error made at
                                            step s is multiplied by N_t / N_s by step t: at most 1
                                            up to T_max, where the cosine falls; past T_max it
                                            rises again (no restart) and the gain from step
                                            T_max + 1 on is at most N_t / N_{T_max+1}, largest
                                            2 / (1 - cos(pi / T_max)) = 41 at T_max = 10.
                                            So 5 t gain(t) + 3.

A wrong formula moves the learning rate by far more (a wrong phase, a missed decay, an
off-by-one step: a relative change of 1e-3 or more in these settings, against at most 5e-4 allowed
for the float32 Tensor at the cosine's worst step, 9e-13 for a float).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import pytest
import torch
from torch.optim import lr_scheduler

from reference_models.references import schedules

BASE_LRS = (0.1, 0.03)  # the two parameter groups' learning rates
# How the learning rate is given to the optimizer (each a separate code path in the schedulers).
LR_KINDS = {
    "float": lambda value: value,
    "tensor_float32": lambda value: torch.tensor(value),
    "tensor_float64": lambda value: torch.tensor(value, dtype=torch.float64),
}
# The gradient each group's parameter gets: powers of two, so lr * grad is exact and the step's
# displacement is the learning rate scaled exactly.
GRADIENTS = ([1.0, -2.0, 0.5, 4.0], [-0.25, 8.0, 1.0, -1.0])
# The OneCycleLR settings of reference_models.train's fast loop (max_lr: its SGD and Adam peaks).
TRAIN_PCT_START = 0.2
ONE_CYCLE_MAX_LRS = (0.05, 0.003)
ONE_CYCLE_STEPS = 23  # pct_start * steps = 4.6: the warm-up ends between two steps


@dataclass(frozen=True)
class ScheduleCase:
    """A scheduler, the formula it documents, and how many roundings it may differ by."""
    build: Callable  # optimizer -> scheduler, or (SequentialLR, the schedulers it runs)
    lr: Callable  # (group index, the group's base lr, step t) -> the documented learning rate
    steps: int
    roundings: Callable[[int], float]  # step t -> eps of the scale allowed
    optimizer: str = "sgd"  # sgd (no momentum: the step moves by lr * grad), sgd_momentum, adam
    momentum: Callable | None = None  # (group index, t) -> the documented momentum / beta1
    scale: Callable = lambda index, base: base  # the largest learning rate of the group's schedule
    watch: tuple[int, ...] = ()  # SequentialLR's milestones: check which scheduler is active


# -- the cases: one entry per scheduler and configuration -------------------------------------------

def _recursive(updates: Callable[[int], int]):
    return lambda t: 3 + 2 * updates(t)


def _cosine_roundings(T_max: int):
    def roundings(t):
        gain = 1.0 if t <= T_max else (1 + math.cos(math.pi * t / T_max)) / (1 - math.cos(math.pi / T_max))
        return 5 * t * max(1.0, gain) + 3
    return roundings


LAMBDAS = (lambda t: min(1.0, (t + 1) / 4),  # linear warm-up over 4 steps
           lambda t: 0.95 ** t)
MULTISTEP_MILESTONES = [2, 5, 5, 9]  # 5 twice: the decay there is gamma ** 2
COSINE_T_MAX, COSINE_ETA_MIN = 10, 0.001
# SequentialLR: the documentation's example (ConstantLR, then ExponentialLR), shortened; and a
# warm-up, a step decay, then a cosine, with two milestones.
SEQUENTIAL_DOC_MILESTONES = [5]
SEQUENTIAL_THREE_MILESTONES = [3, 7]


def _sequential_doc(optimizer):
    parts = [lr_scheduler.ConstantLR(optimizer, factor=0.1, total_iters=5),
             lr_scheduler.ExponentialLR(optimizer, gamma=0.9)]
    return lr_scheduler.SequentialLR(optimizer, parts, milestones=SEQUENTIAL_DOC_MILESTONES), parts


def _sequential_doc_lr(index, base, t):
    return schedules.sequential(t, [lambda k: schedules.constant_lr(base, k, 0.1, 5),
                                    lambda k: schedules.exponential_lr(base, k, 0.9)], SEQUENTIAL_DOC_MILESTONES)


def _sequential_three(optimizer):
    parts = [lr_scheduler.LambdaLR(optimizer, LAMBDAS[0]),
             lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5),
             lr_scheduler.CosineAnnealingLR(optimizer, T_max=6)]
    return lr_scheduler.SequentialLR(optimizer, parts, milestones=SEQUENTIAL_THREE_MILESTONES), parts


def _sequential_three_lr(index, base, t):
    return schedules.sequential(t, [lambda k: schedules.lambda_lr(base, k, LAMBDAS[0]),
                                    lambda k: schedules.step_lr(base, k, 2, 0.5),
                                    lambda k: schedules.cosine_annealing_lr(base, k, 6)],
                                SEQUENTIAL_THREE_MILESTONES)


def _chained_doc(optimizer):
    return lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(optimizer, factor=0.1, total_iters=5),
                                          lr_scheduler.ExponentialLR(optimizer, gamma=0.9)])


def _chained_doc_lr(index, base, t):
    return schedules.chained(base, t, [lambda k: schedules.constant_lr(base, k, 0.1, 5),
                                       lambda k: schedules.exponential_lr(base, k, 0.9)])


def _chained_steps(optimizer):
    parts = [lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5),
             lr_scheduler.MultiStepLR(optimizer, milestones=MULTISTEP_MILESTONES, gamma=0.8)]
    return lr_scheduler.ChainedScheduler(parts)


def _chained_steps_lr(index, base, t):
    return schedules.chained(base, t, [lambda k: schedules.step_lr(base, k, 3, 0.5),
                                       lambda k: schedules.multistep_lr(base, k, MULTISTEP_MILESTONES, 0.8)])


SCHEDULES = {
    "StepLR": ScheduleCase(
        build=lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
        lr=lambda i, base, t: schedules.step_lr(base, t, 3, 0.5),
        steps=12, roundings=_recursive(lambda t: t // 3)),
    "MultiStepLR": ScheduleCase(
        build=lambda opt: lr_scheduler.MultiStepLR(opt, milestones=MULTISTEP_MILESTONES, gamma=0.5),
        lr=lambda i, base, t: schedules.multistep_lr(base, t, MULTISTEP_MILESTONES, 0.5),
        steps=12, roundings=_recursive(lambda t: sum(m <= t for m in MULTISTEP_MILESTONES))),
    "CosineAnnealingLR": ScheduleCase(
        build=lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=COSINE_T_MAX, eta_min=COSINE_ETA_MIN),
        lr=lambda i, base, t: schedules.cosine_annealing_lr(base, t, COSINE_T_MAX, COSINE_ETA_MIN),
        steps=2 * COSINE_T_MAX + 3,  # down to eta_min, up again (no restart), down again
        roundings=_cosine_roundings(COSINE_T_MAX)),
    "LambdaLR": ScheduleCase(
        build=lambda opt: lr_scheduler.LambdaLR(opt, lr_lambda=list(LAMBDAS)),  # one per group
        lr=lambda i, base, t: schedules.lambda_lr(base, t, LAMBDAS[i]),
        steps=8, roundings=lambda t: 3),
    "SequentialLR-doc_example": ScheduleCase(
        build=_sequential_doc, lr=_sequential_doc_lr, steps=10, roundings=_recursive(lambda t: t),
        watch=tuple(SEQUENTIAL_DOC_MILESTONES)),
    "SequentialLR-warmup_step_cosine": ScheduleCase(
        build=_sequential_three, lr=_sequential_three_lr, steps=13,
        # the cosine phase (T_max 6, steps 0 to 5 after milestone 7) never passes T_max
        roundings=lambda t: 3 + 5 * t,
        watch=tuple(SEQUENTIAL_THREE_MILESTONES)),
    "ChainedScheduler-doc_example": ScheduleCase(
        build=_chained_doc, lr=_chained_doc_lr, steps=10, roundings=_recursive(lambda t: t)),
    "ChainedScheduler-step_multistep": ScheduleCase(
        build=_chained_steps, lr=_chained_steps_lr, steps=12, roundings=_recursive(lambda t: t)),
}


def _one_cycle_case(anneal_strategy, three_phase, optimizer, total_steps=ONE_CYCLE_STEPS):
    cycle_momentum = optimizer != "sgd"  # plain SGD has no momentum to cycle
    options = dict(pct_start=TRAIN_PCT_START, anneal_strategy=anneal_strategy, three_phase=three_phase)

    def build(opt):
        return lr_scheduler.OneCycleLR(opt, max_lr=list(ONE_CYCLE_MAX_LRS), total_steps=total_steps,
                                       cycle_momentum=cycle_momentum, **options)

    def lr(index, base, t):
        return schedules.one_cycle(t, ONE_CYCLE_MAX_LRS[index], total_steps, **options)[0]

    def momentum(index, t):
        return schedules.one_cycle(t, ONE_CYCLE_MAX_LRS[index], total_steps, **options)[1]

    return ScheduleCase(build=build, lr=lr, steps=total_steps, roundings=lambda t: 8, optimizer=optimizer,
                        momentum=momentum if cycle_momentum else None,
                        scale=lambda index, base: ONE_CYCLE_MAX_LRS[index])


for _strategy in ("cos", "linear"):
    for _three_phase in (False, True):
        for _optimizer in ("sgd_momentum", "adam", "sgd"):
            SCHEDULES[f"OneCycleLR-{_strategy}-{'three' if _three_phase else 'two'}_phase-{_optimizer}"] = \
                _one_cycle_case(_strategy, _three_phase, _optimizer)
# The warm-up ending exactly on a step (pct_start * steps = 4).
SCHEDULES["OneCycleLR-cos-two_phase-sgd_momentum-20_steps"] = _one_cycle_case("cos", False, "sgd_momentum", 20)


# -- running a case ----------------------------------------------------------------------------------

def _optimizer(kind: str, lr_kind: str, device):
    params = [torch.nn.Parameter(torch.zeros(len(g), dtype=torch.float64, device=device)) for g in GRADIENTS]
    groups = [{"params": [p], "lr": LR_KINDS[lr_kind](base)} for p, base in zip(params, BASE_LRS)]
    if kind == "adam":
        return torch.optim.Adam(groups, betas=(0.9, 0.999)), params
    if kind == "sgd_momentum":  # reference_models.train's fast loop: Nesterov momentum, weight decay
        return torch.optim.SGD(groups, momentum=0.9, nesterov=True, weight_decay=5e-4), params
    return torch.optim.SGD(groups), params


def _value(lr) -> float:
    return lr.item() if isinstance(lr, torch.Tensor) else lr


def _build(case: ScheduleCase, optimizer):
    """(scheduler, the schedulers a SequentialLR runs, or none)."""
    built = case.build(optimizer)
    return built if isinstance(built, tuple) else (built, [])


def _constructed(make, lr_kind: str, what: str):
    """``make()``: an optimizer or scheduler built, or, where the release rejects a Tensor learning
    rate there, a skip with its words. Only construction may skip: an error in a step is a failure."""
    try:
        return make()
    except (RuntimeError, TypeError, ValueError) as error:
        if lr_kind == "float":
            raise
        pytest.skip(f"{what} with a {lr_kind} learning rate: {type(error).__name__}: {error}")


def _eps(optimizer) -> float:
    """Machine epsilon of the learning rate's type (a Python float is a float64)."""
    lr = optimizer.param_groups[0]["lr"]
    return torch.finfo(lr.dtype if isinstance(lr, torch.Tensor) else torch.float64).eps


def _check_learning_rates(case, scheduler, optimizer, bases, t):
    e = _eps(optimizer)
    last = scheduler.get_last_lr()
    assert len(last) == len(optimizer.param_groups)
    for i, (group, base) in enumerate(zip(optimizer.param_groups, bases)):
        expected = case.lr(i, base, t)
        actual = _value(group["lr"])
        tolerance = case.roundings(t) * e * case.scale(i, base)
        assert abs(actual - expected) <= tolerance, (
            f"step {t}, group {i}: lr {actual!r}, the formula gives {expected!r} "
            f"(|difference| {abs(actual - expected):.3g} > {tolerance:.3g})")
        assert _value(last[i]) == actual, f"step {t}, group {i}: get_last_lr() {last[i]!r} is not the group's lr"
        if case.momentum is not None:
            momentum = group["betas"][0] if "betas" in group else group["momentum"]
            expected_momentum = case.momentum(i, t)
            # Python floats, computed like OneCycleLR's learning rate: 8 roundings of values <= 1.
            assert abs(momentum - expected_momentum) <= 8 * torch.finfo(torch.float64).eps, (
                f"step {t}, group {i}: momentum {momentum!r}, the formula gives {expected_momentum!r}")


def _run(case: ScheduleCase, lr_kind: str, device, name: str = ""):
    optimizer, params = _constructed(lambda: _optimizer(case.optimizer, lr_kind, device), lr_kind, case.optimizer)
    grads = [torch.tensor(g, dtype=torch.float64, device=device) for g in GRADIENTS]
    # The base rates as the groups hold them (a float32 Tensor's 0.1 is not 0.1), read before
    # the scheduler takes the groups over.
    bases = [_value(group["lr"]) for group in optimizer.param_groups]
    scheduler, parts = _constructed(lambda: _build(case, optimizer), lr_kind, name)
    for t in range(case.steps):
        _check_learning_rates(case, scheduler, optimizer, bases, t)
        if case.watch:
            before = [part.last_epoch for part in parts]
        used = [_value(group["lr"]) for group in optimizer.param_groups]
        start = [p.detach().clone() for p in params]
        optimizer.zero_grad()
        sum((p * g).sum() for p, g in zip(params, grads)).backward()  # grad = g exactly
        optimizer.step()
        scheduler.step()
        if case.optimizer == "sgd":
            for i, (p, p0, g, lr) in enumerate(zip(params, start, grads, used)):
                # p = p0 - lr g, rounded once (lr g is exact: g is a power of two); the difference
                # p0 - p rounds once more: within eps (|p| + |lr g|).
                moved = (p0 - p.detach()).cpu()
                tolerance = torch.finfo(torch.float64).eps * (p.detach().abs().cpu() + abs(lr) * g.abs().cpu())
                assert ((moved - lr * g.cpu()).abs() <= tolerance).all(), (
                    f"step {t}, group {i}: the parameter moved by {moved.tolist()}, not lr {lr!r} times "
                    f"the gradient {g.tolist()}")
        if case.watch:
            _check_active_scheduler(parts, before, case.watch, t + 1)
    return scheduler, optimizer


def _check_active_scheduler(parts, before, milestones, t):
    """After SequentialLR's step to step t, only the scheduler active at t moved, and it is at its
    own step t - (the milestone it started at)."""
    active = schedules.active_schedule(t, milestones)
    start = milestones[active - 1] if active else 0
    after = [part.last_epoch for part in parts]
    for i, (b, a) in enumerate(zip(before, after)):
        if i == active:
            assert a == t - start, f"step {t}: the active scheduler {i} is at its step {a}, not {t - start}"
        else:
            assert a == b, f"step {t}: scheduler {i} moved (last_epoch {b} -> {a}), but {active} is the active one"


@pytest.mark.parametrize("lr_kind", list(LR_KINDS))
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_follows_its_formula(name, lr_kind, device):
    _run(SCHEDULES[name], lr_kind, device, name)


TENSOR_LR_KINDS = [kind for kind in LR_KINDS if kind != "float"]
TENSOR_STEPS = 6  # enough to pass a decay, a milestone or the warm-up's peak in every case


def _run_briefly(case: ScheduleCase, name: str, lr_kind: str, device):
    """TENSOR_STEPS steps of the documented loop; per step, get_last_lr() as returned and the
    groups' learning rates as numbers. Skips where the release cannot build them with a Tensor lr."""
    optimizer, params = _constructed(lambda: _optimizer(case.optimizer, lr_kind, device), lr_kind, case.optimizer)
    tensors = [group["lr"] for group in optimizer.param_groups]
    scheduler, _ = _constructed(lambda: _build(case, optimizer), lr_kind, name)
    returned, values = [], []
    for _ in range(TENSOR_STEPS):
        returned.append(scheduler.get_last_lr())
        values.append([_value(group["lr"]) for group in optimizer.param_groups])
        optimizer.zero_grad()
        sum(p.sum() for p in params).backward()
        optimizer.step()
        scheduler.step()
    return optimizer, tensors, returned, values


@pytest.mark.parametrize("lr_kind", TENSOR_LR_KINDS)
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_tensor_learning_rate_stays_a_tensor(name, lr_kind, device):
    """The schedulers keep each group's lr of its own type (get_last_lr's documentation: "the same
    types as their group['lr']s"): a Tensor lr stays the optimizer's own Tensor, of its dtype, so
    a compiled optimizer step sees one tensor whose value changes."""
    optimizer, tensors, returned, _ = _run_briefly(SCHEDULES[name], name, lr_kind, device)
    for i, (group, tensor) in enumerate(zip(optimizer.param_groups, tensors)):
        assert isinstance(group["lr"], torch.Tensor), f"group {i}: lr became {type(group['lr']).__name__}"
        assert group["lr"] is tensor, f"group {i}: lr was replaced by another Tensor"
        assert group["lr"].dtype == tensor.dtype, f"group {i}: lr became {group['lr'].dtype}"
        assert all(isinstance(last[i], torch.Tensor) for last in returned), f"group {i}: get_last_lr() {returned}"


@pytest.mark.parametrize("lr_kind", TENSOR_LR_KINDS)
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_get_last_lr_keeps_the_values_it_returned(name, lr_kind, device):
    """get_last_lr() is the learning rate of the step it was called at: a value it returned must
    still read that learning rate after later steps (with a Tensor lr, filled in place every step,
    it must be a copy, as the documentation says, not the optimizer's tensor itself)."""
    _, _, returned, values = _run_briefly(SCHEDULES[name], name, lr_kind, device)
    for t, (last, value) in enumerate(zip(returned, values)):
        now = [_value(x) for x in last]
        assert now == value, (f"get_last_lr() returned at step {t} now reads {now}; the learning rates "
                              f"at step {t} were {value}")


def test_one_cycle_reaches_its_documented_landmarks():
    """The formula itself at the points OneCycleLR's documentation names: initial_lr = max_lr /
    div_factor at the first step, max_lr at the end of the warm-up, min_lr = initial_lr /
    final_div_factor at the last step; the momentum inverse (max_momentum, base_momentum,
    max_momentum); the three-phase schedule back at initial_lr where its second phase ends."""
    T, peak = 20, 0.05  # the warm-up is steps 0..3 at pct_start 0.2
    for strategy in ("cos", "linear"):
        for three_phase in (False, True):
            at = [schedules.one_cycle(t, peak, T, TRAIN_PCT_START, strategy, three_phase=three_phase)
                  for t in range(T)]
            assert at[0] == pytest.approx((peak / 25, 0.95), rel=1e-15)
            assert at[3] == pytest.approx((peak, 0.85), rel=1e-15)
            assert at[T - 1] == pytest.approx((peak / 25 / 1e4, 0.95), rel=1e-12)
            assert max(lr for lr, _ in at) == at[3][0]
            if three_phase:
                assert at[6] == pytest.approx((peak / 25, 0.95), rel=1e-15)  # 2 * 0.2 * 20 - 2
