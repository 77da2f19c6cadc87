"""The checks a case passes before it is timed, with one entry point, :func:`checked_workload`:
in a mode other than eager, 3 training steps against eager's (blitzbench.measure.mode_check);
then one call of the phase on the workload that will be timed (output shape, finite loss and
gradients, a step that moves the weights); and, in a configuration other than eager float32
contiguous, that call against the same call in that configuration, within the tolerances of
blitzbench.measure.tolerances. An AssertionError says what is wrong.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from blitzbench.cases import DEFAULTS, Case
from blitzbench.measure import devices, mode_check, modes, tolerances
from blitzbench.measure.workloads import Workload


def checked_workload(case: Case) -> tuple[Workload, devices.CaseMemory]:
    """The case's workload, checked and ready to time, and the start of its memory account
    (after the mode's verification, whose workloads are freed before the case begins, and with
    the high-water mark of the checks' throwaway workloads forgotten)."""
    modes.start_case(case)
    mode_check.verify_once(case)
    memory = devices.CaseMemory(case.device)
    workload = Workload(case)
    check_workload(workload)
    workload.prepare()
    memory.reset_peak()
    return workload, memory


def check_workload(w: Workload) -> None:
    """Run the phase once and check its result; AssertionError says what is wrong. A case
    in a configuration other than eager float32 contiguous is also compared with that one
    (:func:`compare_with_eager_float32`)."""
    check_call(w)
    if w.case != reference_case(w.case):
        compare_with_eager_float32(w)


def compare_with_eager_float32(w: Workload) -> None:
    """One call of the phase in this configuration against one in eager float32 contiguous,
    both from the seed on fresh workloads, TF32 off: outputs, gradients and the step's update
    within blitzbench.measure.tolerances.network_tolerances for the case's dtype. (A cudagraph capture's
    warm-up steps move the weights before the first replay, so for its step and train_step
    the update is left to blitzbench.measure.mode_check.verify, which undoes them.)"""
    case, phase = w.case, w.case.phase
    if case.mode == "cudagraph" and phase in ("step", "train_step"):
        return  # the capture's warm-up steps move the weights: blitzbench.measure.mode_check.verify covers these
    out_tol, grad_tol = tolerances.network_tolerances(case.dtype, case.batch_size)
    with devices.ieee_float32():
        mine, reference = (_one_call(Workload(c)) for c in (case, reference_case(case)))
    what = f"{case.id} against eager float32 contiguous"
    for name, tolerance in (("output", out_tol), ("loss", out_tol)):
        if name in reference:
            error = tolerances.relative_error(mine[name], reference[name])
            assert error <= tolerance, f"{what}: {name} off by {error:.3g} (accepted {tolerance:.3g})"
    for name, ref in reference.get("grad", {}).items():
        error = tolerances.relative_error(mine["grad"][name], ref)
        assert error <= grad_tol, f"{what}: gradient of {name} off by {error:.3g} (accepted {grad_tol:.3g})"
    for name, (before, after) in reference.get("update", {}).items():
        # Parameters after the step: the gradients' tolerance on the update, plus the rounding
        # of p - lr * g in float32 (the update is a thousandth of the parameter).
        difference = (mine["update"][name][1] - after).double().norm().item()
        allowed = (grad_tol * (after - before).double().norm().item()
                   + 4 * tolerances.eps(torch.float32) * after.double().norm().item())
        assert difference <= allowed, f"{what}: {name} after the step off by {difference:.3g} (accepted {allowed:.3g})"


def check_call(w: Workload) -> None:
    """One call of the phase on ``w`` itself: the output's shape and finiteness and whether
    autograd recorded it, a finite loss, every parameter's gradient, a step that moves the weights."""
    n, c = w.case.batch_size, w.num_classes
    phase = w.case.phase
    if phase in ("forward", "inference"):
        out = w.timed()
        assert out.shape == (n, c), f"output shape {tuple(out.shape)}, expected {(n, c)}"
        assert torch.isfinite(out).all(), "output has non-finite values"
        assert out.requires_grad == (phase == "forward"), f"{phase}: autograd recording is {out.requires_grad}"
    elif phase == "backward":
        (loss,), _ = w.fresh_graph()
        assert math.isfinite(loss.item()), f"loss is {loss.item()}"
        w.backward(loss)
        _check_gradients(w)
    elif phase == "step":
        w.fresh_graph()[0][0].backward()  # gradients to step with, left in place
        _check_gradients(w)
        before = [p.detach().clone() for p in w.net.parameters()]
        w.timed()
        moved = any(not torch.equal(b, p) for b, p in zip(before, w.net.parameters()))
        assert moved, "optimizer.step() left every parameter unchanged"
        assert all(torch.isfinite(p).all() for p in w.net.parameters()), "parameters became non-finite"
    elif phase == "train_step":
        loss = w.timed()
        assert math.isfinite(loss.item()), f"loss is {loss.item()}"
        _check_gradients(w)
    else:
        raise AssertionError(f"unknown phase {phase!r}")


def _check_gradients(w: Workload) -> None:
    for name, p in w.net.named_parameters():
        assert p.grad is not None, f"{name} has no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"


def reference_case(case: Case) -> Case:
    """The configuration a case is compared with: every axis at its default (blitzbench.cases.DEFAULTS:
    eager, float32, contiguous)."""
    return dataclasses.replace(case, **DEFAULTS)


def _one_call(w: Workload) -> dict:
    """What one call of ``w``'s phase computes, from the seed: the output, or the loss and
    gradients, and for the phases that step each parameter (before, after)."""
    phase = w.case.phase
    if phase in ("forward", "inference"):
        return {"output": w.timed().detach().float().clone()}  # clone: a replay reuses its output
    if phase == "backward":
        (loss,), _ = w.fresh_graph()
        w.backward(loss)
        return {"loss": loss.detach().float().clone(), "grad": w.gradients_now()}
    before = w.parameters_now()
    if phase == "step":
        w.prepare()
        grads = w.gradients_now()
        w.timed()
        return {"grad": grads, "update": {n: (before[n], p) for n, p in w.parameters_now().items()}}
    loss = w.timed()
    return {"loss": loss.detach().float().clone(), "grad": w.gradients_now(),
            "update": {n: (before[n], p) for n, p in w.parameters_now().items()}}
