"""Learning-rate schedules written from their documented formulas (the training loop of the
chapter's section 8, made fast: reference_models.train's one-cycle schedule).

Each function gives the learning rate a parameter group uses at step ``t`` (t = 0 before the
first ``scheduler.step()``, t = k after k of them), in plain Python arithmetic from the group's
base learning rate; torch.optim.lr_scheduler is never used. The formulas are those of the
torch.optim.lr_scheduler documentation:

StepLR (step_size s, gamma)             base * gamma ** floor(t / s)
MultiStepLR (milestones m, gamma)       base * gamma ** #{milestones m_i <= t}  (a milestone
                                        listed twice counts twice)
ConstantLR (factor, total_iters n)      base * factor if t < n, else base
ExponentialLR (gamma)                   base * gamma ** t
CosineAnnealingLR (T_max, eta_min)      eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2,
                                        the closed form of SGDR without restarts (t keeps
                                        growing past T_max, so the cosine rises again)
LambdaLR (lr_lambda f)                  base * f(t)
SequentialLR (schedules S_0..S_n,       S_i(t - m_{i-1}) with i = #{milestones m_j <= t}
 milestones m_0..m_{n-1})               (m_{-1} = 0): each schedule starts from its own step 0,
                                        and from the base learning rate, right at its milestone
ChainedScheduler (chainable S_0..S_n)   base * prod_i S_i(t) / base: each schedule multiplies
                                        the learning rate by its own factor at every step
OneCycleLR                              see :func:`one_cycle`
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

Schedule = Callable[[int], float]  # step -> learning rate


def step_lr(base: float, t: int, step_size: int, gamma: float = 0.1) -> float:
    return base * gamma ** (t // step_size)


def multistep_lr(base: float, t: int, milestones: Sequence[int], gamma: float = 0.1) -> float:
    return base * gamma ** sum(1 for m in milestones if m <= t)


def constant_lr(base: float, t: int, factor: float = 1.0 / 3, total_iters: int = 5) -> float:
    return base * factor if t < total_iters else base


def exponential_lr(base: float, t: int, gamma: float) -> float:
    return base * gamma ** t


def cosine_annealing_lr(base: float, t: int, T_max: int, eta_min: float = 0.0) -> float:
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


def lambda_lr(base: float, t: int, lr_lambda: Callable[[int], float]) -> float:
    return base * lr_lambda(t)


def active_schedule(t: int, milestones: Sequence[int]) -> int:
    """Which schedule of a sequence is active at step ``t`` (its index): the number of milestones
    reached, a schedule taking over right at its milestone."""
    return sum(1 for m in milestones if m <= t)


def sequential(t: int, schedules: Sequence[Schedule], milestones: Sequence[int]) -> float:
    """The learning rate at step ``t`` of schedules run one after another: schedule i is active
    from milestone i-1 (0 for the first) to before milestone i, counting its steps from 0."""
    active = active_schedule(t, milestones)
    start = milestones[active - 1] if active else 0
    return schedules[active](t - start)


def chained(base: float, t: int, schedules: Sequence[Schedule]) -> float:
    """The learning rate at step ``t`` of multiplicative schedules applied together; each
    schedule is given as its learning rate from ``base`` alone."""
    lr = base
    for schedule in schedules:
        lr *= schedule(t) / base
    return lr


def anneal(start: float, end: float, fraction: float, strategy: str) -> float:
    """From ``start`` (fraction 0) to ``end`` (fraction 1): half a cosine ("cos") or a line."""
    if strategy == "cos":
        return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2
    if strategy == "linear":
        return start + (end - start) * fraction
    raise ValueError(f"unknown anneal strategy {strategy!r}; accepted: cos, linear")


def one_cycle(t: int, max_lr: float, total_steps: int, pct_start: float = 0.3,
              anneal_strategy: str = "cos", div_factor: float = 25.0, final_div_factor: float = 1e4,
              three_phase: bool = False, base_momentum: float = 0.85,
              max_momentum: float = 0.95) -> tuple[float, float]:
    """(learning rate, momentum) at step ``t`` of the 1cycle policy, as OneCycleLR documents it.

    The cycle has ``total_steps`` steps, numbered 0 to total_steps - 1. It starts at
    initial_lr = max_lr / div_factor and ends, at its last step, at
    min_lr = initial_lr / final_div_factor. The first pct_start of the steps (0 to
    pct_start * total_steps - 1) raise the learning rate from initial_lr to max_lr; then

      two phases (default): one phase anneals from max_lr down to min_lr at the last step;
      three phases: the second phase mirrors the first about its end (back down to initial_lr
        at step 2 pct_start total_steps - 2), the third anneals from initial_lr to min_lr.

    Within a phase from step a (value u) to step b (value v), step t is at the fraction
    (t - a) / (b - a) of the way, by ``anneal_strategy``. The momentum (SGD's momentum, Adam's
    beta1) is cycled inversely: max_momentum where the learning rate is lowest at the start,
    base_momentum at the peak, back to max_momentum, and held there by a third phase.
    """
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    warm_up_end = float(pct_start * total_steps) - 1
    if three_phase:
        phases = [(warm_up_end, initial_lr, max_lr, max_momentum, base_momentum),
                  (float(2 * pct_start * total_steps) - 2, max_lr, initial_lr, base_momentum, max_momentum),
                  (total_steps - 1, initial_lr, min_lr, max_momentum, max_momentum)]
    else:
        phases = [(warm_up_end, initial_lr, max_lr, max_momentum, base_momentum),
                  (total_steps - 1, max_lr, min_lr, base_momentum, max_momentum)]
    start = 0.0
    for i, (end, lr_from, lr_to, momentum_from, momentum_to) in enumerate(phases):
        if t <= end or i == len(phases) - 1:
            fraction = (t - start) / (end - start)
            return (anneal(lr_from, lr_to, fraction, anneal_strategy),
                    anneal(momentum_from, momentum_to, fraction, anneal_strategy))
        start = end
    raise AssertionError("unreachable: the last phase takes every step")
