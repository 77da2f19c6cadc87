"""Floating-point operations per sample for each phase, counted by torch's FlopCounterMode.

FlopCounterMode counts the matrix products and convolutions (forward and backward formulas
registered in torch.utils.flop_counter); element-wise work (ReLU, pooling, the loss, the
optimizer's update) is not counted. An optimizer step therefore counts 0 and is reported as
None: GFLOP/s means nothing for it.
"""

from __future__ import annotations

import dataclasses

from torch.utils.flop_counter import FlopCounterMode

from bench.cases import Case
from bench.workloads import Workload


def flops_per_sample(case: Case) -> float | None:
    """Counted FLOPs of one call of ``case``'s phase, divided by the batch size (None if 0)."""
    # Counted on the eager model in float32: execution mode and autocast do not change the math.
    w = Workload(dataclasses.replace(case, mode="eager"))
    phase = case.phase
    if phase == "backward":
        (loss,), _ = w.fresh_graph()
        with FlopCounterMode(display=False) as counter:
            w.backward(loss)
    else:
        w.prepare()
        with FlopCounterMode(display=False) as counter:
            w.timed()
    total = counter.get_total_flops()
    return total / case.batch_size if total else None
