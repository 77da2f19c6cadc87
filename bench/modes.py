"""Execution modes of a benchmark case, and the check that each one computes what eager does.

  eager            the chapter's code as written (section 6)
  compiled         ``torch.compile(model)``, default mode
  reduce-overhead  ``torch.compile(model, mode="reduce-overhead")``: compiled, and replayed as CUDA
                   graphs by torch's CUDA-graph trees (CUDA only)
  cudagraph        the phase captured once with ``torch.cuda.CUDAGraph`` on a static batch and
                   replayed per call (reference_models.cuda_graphs; CUDA only); for train_step the
                   graph holds zero_grad, forward, loss, backward and the optimizer step

:func:`verify` runs 3 training steps in a case's mode and 3 eager steps from the same seed, with
TF32 off, and compares what the steps did to each parameter (see :func:`update_error`).
"""

from __future__ import annotations

import dataclasses

import torch

from bench.cases import Case
from bench.devices import ieee_float32

VERIFY_STEPS = 3
# Largest accepted |update in the mode - eager update|, relative to the largest eager update of
# the same tensor. Eager and compiled kernels sum in different orders; in float32 that moved the
# updates by 1e-5 to 1.6e-4 of their size for torch.compile on the CPU (bench/test_modes.py
# bounds it); autocast's half-precision products carry the half type's rounding (eps = 2**-7 for
# bfloat16, 2**-10 for float16) through forward and backward.
UPDATE_RTOL = {"float32": 1e-3, "bfloat16": 0.1, "float16": 0.02}


def compile_model(net: torch.nn.Module, mode: str):
    """The callable that runs ``net`` in ``mode`` (cudagraph captures later, per phase)."""
    if mode == "compiled":
        return torch.compile(net)
    if mode == "reduce-overhead":
        return torch.compile(net, mode="reduce-overhead")
    if mode in ("eager", "cudagraph"):
        return net
    raise ValueError(f"unknown mode {mode!r}")


def parameter_updates(case: Case, steps: int = VERIFY_STEPS) -> dict[str, torch.Tensor]:
    """What ``steps`` training steps in ``case``'s mode do to each parameter (after - before),
    from the seeded weights, in float64 on the CPU."""
    from bench.workloads import Workload

    w = Workload(dataclasses.replace(case, phase="train_step"))
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
    return {name: (p.detach() - initial[name]).to("cpu", torch.float64) for name, p in w.net.named_parameters()}


def update_error(updates: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> tuple[float, str]:
    """(largest relative error, the parameter it is in): max |u - u_ref| / max |u_ref| per tensor.

    The updates are compared, not the parameters: after 3 steps at lr 0.001 a parameter has moved
    by a thousandth of its size, so a tolerance on the parameters would pass a wrong gradient.
    """
    worst, where = 0.0, ""
    for name, ref in reference.items():
        scale = ref.abs().max().item() or 1.0
        error = (updates[name] - ref).abs().max().item() / scale
        if error > worst or not where:
            worst, where = error, name
    return worst, where


_verified: dict[Case, float] = {}


def verify_once(case: Case) -> float:
    """:func:`verify`, once per configuration in a process: the phases of one model, device, batch
    size, dtype, memory format and mode share their training steps."""
    key = dataclasses.replace(case, phase="train_step")
    if key not in _verified:
        _verified[key] = verify(key)
    return _verified[key]


def verify(case: Case, steps: int = VERIFY_STEPS) -> float:
    """Check that ``steps`` training steps in ``case``'s mode match eager ones (TF32 off);
    AssertionError says by how much they differ. Returns the largest relative error."""
    if case.mode == "eager":
        return 0.0
    with ieee_float32():
        reference = parameter_updates(dataclasses.replace(case, mode="eager"), steps)
        updates = parameter_updates(case, steps)
    error, name = update_error(updates, reference)
    tolerance = UPDATE_RTOL[case.dtype]
    assert error <= tolerance, (
        f"{case.mode} is not eager: after {steps} training steps from the same seed, {name}'s update "
        f"differs from eager's by {error:.3g} of its size (accepted: {tolerance:g} for {case.dtype})")
    return error
