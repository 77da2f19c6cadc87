"""Floating-point operations per sample for each phase, counted by torch's FlopCounterMode.

FlopCounterMode counts the matrix products and convolutions (forward and backward formulas
registered in torch.utils.flop_counter); element-wise work (ReLU, pooling, the loss, the
optimizer's update) is not counted. An optimizer step therefore counts 0 and is reported as
None: GFLOP/s means nothing for it (blitzbench.analysis.summary_table.gflops_missing_reason says why a
figure is absent).

The inference phase is counted under ``torch.no_grad()`` in eval mode, the same operations as
under ``torch.inference_mode()``: FlopCounterMode counts nothing under inference_mode on torch
2.4.1 (pytorch/pytorch#126268; it counts on 2.6.0, the next release in tox.ini).
"""

from __future__ import annotations

import dataclasses

import torch
from torch.utils.flop_counter import FlopCounterMode

from blitzbench.cases import DEFAULTS, Case
from blitzbench.measure.workloads import Workload


def flops_per_sample(case: Case) -> float | None:
    """Counted FLOPs of one call of ``case``'s phase, divided by the batch size (None if 0)."""
    # Counted on the eager model in float32: execution mode and autocast do not change the math.
    w = Workload(dataclasses.replace(case, mode=DEFAULTS["mode"]))
    phase = case.phase
    if phase == "backward":
        (loss,), _ = w.fresh_graph()
        with FlopCounterMode(display=False) as counter:
            w.backward(loss)
    elif phase == "inference":
        w.prepare()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            w.forward()  # the model is in eval mode for this phase; see the module docstring
    else:
        w.prepare()
        with FlopCounterMode(display=False) as counter:
            w.timed()
    total = counter.get_total_flops()
    return total / case.batch_size if total else None
