"""The chapter's training step (sections 6 and 8), written once:

    optimizer.zero_grad()  ->  loss = loss_fn(net(x), y)  ->  loss.backward()  ->  optimizer.step()

Every tool that trains calls :func:`training_step` (or :func:`gradients`, the same step without
the optimizer's update, where something must happen between backward and step): the benchmarks'
train_step phase (blitzbench.measure.workloads), the profiler's traces (blitzbench.measure.profiling, with its parts
labelled), DistributedDataParallel and its one-process reference (blitzbench.distributed.worker), both
training loops (reference_models.train), and the device-agreement and training-smoke checks.
The one exception is a CUDA graph's captured step (reference_models.cuda_graphs), which must
zero the gradients in place rather than set them to None, so that they keep their addresses.

Learning rates, and why each tool uses its own:

  =====================================  ==========================  ===================================
  tool                                   optimizer                   why
  =====================================  ==========================  ===================================
  benchmarks (blitzbench.measure.workloads)           SGD lr 0.001, momentum 0.9  the tutorial's optimizer
                                                                     (:data:`TUTORIAL_LR`); the time of
                                                                     a step does not depend on it
  tutorial loop (train --loop tutorial)  SGD lr 0.001, momentum 0.9  the chapter's loop as written
  fast loop (train --loop fast)          SGD Nesterov, one-cycle to  chosen so that chapter_net reaches
                                         a peak of 0.05, wd 5e-4     97% on mnist5k within 10 epochs
  DDP against one process                SGD lr 0.01, momentum 0.9   :data:`CHECK_LR`: steps ten times
  (blitzbench.distributed.worker), CUDA against the                              the tutorial's, so that a wrong
  CPU (bench/test_devices.py), a mode                                gradient or update moves the
  against eager (blitzbench.measure.modes)                                        parameters by more than float32's
                                                                     rounding of them after a few steps
  training smoke                         Adam lr 3e-3                memorises one batch in 30 steps
  =====================================  ==========================  ===================================
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn.functional as F

TUTORIAL_LR, MOMENTUM = 0.001, 0.9  # the tutorial's optimizer (section 8, step 3)
CHECK_LR = 0.01  # checks that compare two ways of training (see the table above)


def _no_section(name: str):
    return contextlib.nullcontext()


def gradients(forward: Callable, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
              loss_fn=F.cross_entropy, autocast=None,
              section: Callable[[str], contextlib.AbstractContextManager] = _no_section) -> torch.Tensor:
    """zero_grad, forward, loss and backward: one batch's gradients, left in each ``.grad``.

    ``forward`` is the model (or anything that maps x to logits: a compiled model, a DDP
    wrapper); ``autocast`` a context for the forward and the loss (mixed precision);
    ``section(name)`` a context around each part ("forward", "backward"), such as the profiler's
    ``record_function``. Returns the loss.
    """
    with section("forward"):
        optimizer.zero_grad(set_to_none=True)
        with autocast if autocast is not None else contextlib.nullcontext():
            loss = loss_fn(forward(x), y)
    with section("backward"):
        loss.backward()
    return loss


def training_step(forward: Callable, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                  loss_fn=F.cross_entropy, autocast=None,
                  section: Callable[[str], contextlib.AbstractContextManager] = _no_section) -> torch.Tensor:
    """The chapter's loop body: :func:`gradients`, then ``optimizer.step()`` (in ``section("step")``).
    Returns the loss."""
    loss = gradients(forward, optimizer, x, y, loss_fn, autocast, section)
    with section("step"):
        optimizer.step()
    return loss
