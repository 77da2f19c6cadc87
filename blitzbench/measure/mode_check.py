"""The check that a case's execution mode computes what eager does (blitzbench.measure.modes).

:func:`verify` runs 3 training steps in a case's mode and 3 eager steps from the same seed, with
TF32 off, and compares what the steps did to each parameter (see :func:`update_error`); the
tolerance adds float32's rounding of the parameters and how far eager itself moves when its
weights change by one rounding (:func:`sensitivity`). ``blitzbench modes CASE ...`` prints it
(blitzbench.cli.modes).
"""

from __future__ import annotations

import dataclasses

import torch

from blitzbench.cases import DEFAULTS, Case
from blitzbench.measure.devices import ieee_float32
from blitzbench.measure.workloads import Workload
from reference_models.training_step import CHECK_LR

VERIFY_STEPS = 3
# Largest accepted |update in the mode - eager update|, relative to the largest eager update of
# the same tensor, on top of the parameters' own rounding (:func:`rounding_floor`). Eager and
# compiled kernels sum in different orders; in float32 that moved the updates by 1e-5 to 1.6e-4
# of their size for torch.compile on the CPU (bench/test_modes.py bounds it); autocast's
# half-precision products carry the half type's rounding (eps = 2**-7 for bfloat16, 2**-10 for
# float16) through forward and backward.
UPDATE_RTOL = {"float32": 1e-3, "bfloat16": 0.1, "float16": 0.02}
FLOAT32_EPS = torch.finfo(torch.float32).eps  # 2**-23
# Eager runs from weights moved by float32 rounding (:func:`perturb`), and how many times their
# spread a mode may differ by: a mode is accepted where it differs from eager by no more than
# eager differs from itself under rounding-sized changes (twice, for two independent roundings).
PERTURBATION_SEEDS = (1, 2)
SENSITIVITY_FACTOR = 2


def parameter_updates(case: Case, steps: int = VERIFY_STEPS,
                      perturbation_seed: int | None = None) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """What ``steps`` training steps in ``case``'s mode do to each parameter (after - before,
    in float64 on the CPU), from the seeded weights, at :data:`CHECK_LR` (ten times the
    tutorial's rate, so that the update stands further above float32's rounding of the
    parameters); and the largest magnitude each parameter reached. With ``perturbation_seed``,
    every seeded weight is first moved by one unit of float32 rounding (:func:`perturb`)."""
    w = Workload(dataclasses.replace(case, phase="train_step"))
    for group in w.optimizer.param_groups:
        group["lr"] = CHECK_LR  # before any capture: a captured step keeps the rate it saw
    if perturbation_seed is not None:
        perturb(w.net, perturbation_seed)
    initial = {name: p.detach().clone() for name, p in w.net.named_parameters()}
    if case.mode == "cudagraph":
        w.capture()  # its warm-up steps moved the weights and made the momentum buffers: undo them
        with torch.no_grad():
            for name, p in w.net.named_parameters():
                p.copy_(initial[name])  # in place: the graph holds these addresses
            for state in w.optimizer.state.values():
                if state.get("momentum_buffer") is not None:
                    state["momentum_buffer"].zero_()  # momentum * 0 + grad: SGD's first step exactly
    for _ in range(steps):
        w.timed()
    updates = {name: (p.detach() - initial[name]).to("cpu", torch.float64) for name, p in w.net.named_parameters()}
    magnitudes = {name: max(p.detach().abs().max().item(), initial[name].abs().max().item())
                  for name, p in w.net.named_parameters()}
    return updates, magnitudes


def perturb(net: torch.nn.Module, seed: int) -> None:
    """Multiply each weight by 1 + eps or 1 - eps (eps = 2**-23, signs drawn from ``seed``):
    a change the size of float32's rounding, which any other order of summation also makes."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            signs = torch.randint(0, 2, p.shape, generator=generator).to(p.device, p.dtype) * 2 - 1
            p.mul_(1 + signs * FLOAT32_EPS)


def rounding_floor(magnitude: float, steps: int = VERIFY_STEPS) -> float:
    """How far two runs' updates of a float32 parameter of largest size ``magnitude`` can differ
    by rounding alone: each step rounds p - lr * v to float32, off by at most half a unit in the
    last place, eps * |p| / 2; over ``steps`` steps in each of two runs, steps * eps * |p|. Twice
    that is accepted (the momentum buffers round too). After 3 steps at lr 0.01 a parameter has
    moved by about a hundredth of its size, so this floor is a few thousandths of the update at
    most (at the tutorial's lr 0.001 it was up to 1.5e-2, for lenet's conv1 at batch 1024)."""
    return 2 * steps * FLOAT32_EPS * magnitude


def sensitivity(reference: dict[str, torch.Tensor], perturbed: list[dict[str, torch.Tensor]]) -> dict[str, float]:
    """Per parameter, the largest max |u - u_ref| over eager runs from perturbed weights: how far
    eager's own updates move when its weights change by float32 rounding. Over several steps a
    ReLU or a max-pool window near its switching point can flip for a few samples, which moves a
    whole gradient: eager chapter_net at batch 1024 moved by 1.7e-3 of the update this way, as
    much as torch.compile's differed from it (its one-step gradients agree within 6e-7)."""
    return {name: max((u[name] - ref).abs().max().item() for u in perturbed) if perturbed else 0.0
            for name, ref in reference.items()}


def update_error(updates: dict[str, torch.Tensor], reference: dict[str, torch.Tensor],
                 rtol: float = UPDATE_RTOL["float32"], allowance: dict[str, float] | None = None
                 ) -> tuple[float, str, float]:
    """(largest error, the parameter it is in, the tolerance there), the error being
    max |u - u_ref| / max |u_ref| per tensor and the tolerance ``rtol`` plus the tensor's
    ``allowance`` (absolute, in the update's units) in the same unit; the tensor reported is the
    one nearest its tolerance.

    The updates are compared, not the parameters: after 3 steps a parameter has moved by a
    hundredth of its size, so a tolerance on the parameters alone would pass a wrong gradient.
    """
    worst = None
    for name, ref in reference.items():
        scale = ref.abs().max().item() or 1.0
        error = (updates[name] - ref).abs().max().item() / scale
        tolerance = rtol + (allowance or {}).get(name, 0.0) / scale
        if worst is None or error / tolerance > worst[0] / worst[2]:
            worst = (error, name, tolerance)
    return worst


_verified: dict[Case, float] = {}


def verify_once(case: Case) -> float:
    """:func:`verify`, once per configuration in a process: the phases of one model, device, batch
    size, dtype, memory format and mode share their training steps."""
    key = dataclasses.replace(case, phase="train_step")
    if key not in _verified:
        _verified[key] = verify(key)
    return _verified[key]


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A mode's 3 steps against eager's, at the tensor nearest its tolerance."""
    case: Case
    parameter: str
    error: float  # max |u - u_eager| / max |u_eager|
    tolerance: float  # in the same unit
    eager_spread: float  # how far eager's own update moved under one-rounding perturbations, same unit

    @property
    def ok(self) -> bool:
        return self.error <= self.tolerance


def compare(case: Case, steps: int = VERIFY_STEPS) -> Comparison:
    """``steps`` training steps in ``case``'s mode against eager ones from the same seed, TF32 off."""
    eager = dataclasses.replace(case, mode=DEFAULTS["mode"])
    with ieee_float32():
        reference, magnitudes = parameter_updates(eager, steps)
        updates, _ = parameter_updates(case, steps)
        perturbed = [parameter_updates(eager, steps, seed)[0] for seed in PERTURBATION_SEEDS]
    spread = sensitivity(reference, perturbed)
    allowance = {name: rounding_floor(magnitudes[name], steps) + SENSITIVITY_FACTOR * spread[name] for name in reference}
    error, name, tolerance = update_error(updates, reference, UPDATE_RTOL[case.dtype], allowance)
    return Comparison(case, name, error, tolerance, spread[name] / (reference[name].abs().max().item() or 1.0))


def verify(case: Case, steps: int = VERIFY_STEPS) -> float:
    """Check that ``steps`` training steps in ``case``'s mode match eager ones (TF32 off);
    AssertionError says by how much they differ. Returns the relative error of the tensor nearest
    its tolerance."""
    if case.mode == DEFAULTS["mode"]:
        return 0.0
    c = compare(case, steps)
    assert c.ok, (
        f"{case.mode} is not eager: after {steps} training steps from the same seed, {c.parameter}'s update "
        f"differs from eager's by {c.error:.3g} of its size (accepted: {c.tolerance:.3g}: {UPDATE_RTOL[case.dtype]:g} "
        f"for {case.dtype}, plus float32's rounding of the parameter, plus {SENSITIVITY_FACTOR}x "
        f"{c.eager_spread:.3g}, how far eager's own update moves when its weights move by float32 rounding)")
    return c.error
