"""CUDA graphs for the chapter's training on a GPU (section 9): capture once, replay per batch.

Eager steps of these small nets are bound by kernel launches (about 2 ms per training step on an
H100 whatever the batch up to 1024). A CUDA graph records the kernels of one call on fixed
("static") tensors; ``graph.replay()`` relaunches all of them with one call. As PyTorch's CUDA
semantics notes describe for whole-network capture:

  1. warm up on a side stream (cuDNN's algorithm choice, cuBLAS workspaces, the optimizer's
     momentum buffers: lazy allocations that must not happen during capture),
  2. capture one call under ``torch.cuda.graph``,
  3. replay: new data goes into the static input tensors with ``copy_``, results are read from
     the static outputs, which the next replay overwrites.

Gradients must stay at fixed addresses too: :class:`GraphedGradients` zeroes them inside the
graph instead of setting them to None, so that an optimizer outside the graph reads the same
tensors every step.
"""

from __future__ import annotations

from typing import Callable

import torch

WARMUP_CALLS = 3  # as in PyTorch's whole-network capture example


def capture(fn: Callable[[], object], warmup_calls: int = WARMUP_CALLS, pool=None):
    """Warm ``fn`` up on a side stream, then capture one call; returns (graph, that call's output).

    The warm-up calls run for real (an optimizer step inside ``fn`` moves the weights
    ``warmup_calls`` times); the captured call does not run until the first replay.
    """
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup_calls):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, pool=pool):
        output = fn()
    return graph, output


class GraphedGradients:
    """Zero the gradients, forward, loss and backward of one batch shape, captured as a CUDA graph.

    ``graphed(x, y)`` copies the batch into the static inputs, replays, and returns the static
    loss (overwritten by the next call: clone it to keep it). The gradients are left in each
    parameter's ``.grad``, at the same addresses every call, for an optimizer step outside the
    graph (one whose learning rate changes per step, which a captured step would freeze).
    Graphs for other batch shapes share ``pool``.
    """

    def __init__(self, net: torch.nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, pool=None):
        self.net, self.loss_fn = net, loss_fn
        self.x, self.y = x.clone(), y.clone()
        for p in net.parameters():  # fixed addresses: allocated once, outside any graph
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        self.graph, self.loss = capture(self._step, pool=pool)

    def _step(self) -> torch.Tensor:
        self.net.zero_grad(set_to_none=False)
        loss = self.loss_fn(self.net(self.x), self.y)
        loss.backward()
        return loss.detach()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.x.copy_(x)
        self.y.copy_(y)
        self.graph.replay()
        return self.loss
