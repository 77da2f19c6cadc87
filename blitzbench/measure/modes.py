"""Execution modes of a benchmark case: what each one runs (the check that each computes what
eager does is blitzbench.measure.mode_check).

  eager            the chapter's code as written (section 6)
  compiled         ``torch.compile(model)``, default mode
  reduce-overhead  ``torch.compile(model, mode="reduce-overhead")``: compiled, and replayed as CUDA
                   graphs by torch's CUDA-graph trees (CUDA only)
  cudagraph        the phase captured once with ``torch.cuda.CUDAGraph`` on a static batch and
                   replayed per call (reference_models.cuda_graphs; CUDA only); for train_step the
                   graph holds zero_grad, forward, loss, backward and the optimizer step

:func:`start_case` empties torch.compile's cache before each case in a compiled mode: TorchDynamo
keeps at most ``recompile_limit`` (8) compiled versions of a model's ``forward`` per process and
runs any further configuration (dtype, memory format, grad mode, batch size) eagerly with a
warning, so a long run's later "compiled" cases would time eager code. Within a case the
verification's model, the timed one and the check's copy share the cache (torch guards on the
configuration, not on the module instance, from torch 2.5), so the case compiles once or twice, not per model.
"""

from __future__ import annotations

import torch

from blitzbench.cases import Case

COMPILED_MODES = ("compiled", "reduce-overhead")


def compile_model(net: torch.nn.Module, mode: str):
    """The callable that runs ``net`` in ``mode`` (cudagraph captures later, per phase)."""
    if mode == "compiled":
        return torch.compile(net)
    if mode == "reduce-overhead":
        return torch.compile(net, mode="reduce-overhead")
    if mode in ("eager", "cudagraph"):
        return net
    raise ValueError(f"unknown mode {mode!r}")


def start_case(case: Case) -> None:
    """Before a case in a compiled mode: an empty torch.compile cache, so that no earlier case's
    compiled versions count towards torch's recompile limit (and the case compiles as it would
    in a process of its own, with no shapes marked dynamic by earlier batch sizes)."""
    if case.mode in COMPILED_MODES:
        torch._dynamo.reset()
