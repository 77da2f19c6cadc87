"""What a benchmark case runs: the parts of the chapter's training step (section 6), one at a time.

A :class:`blitzbench.cases.Case` is a point in the grid model x device x batch size x phase (x dtype,
memory format, execution mode). A :class:`Workload` turns it into: the model, its
optimizer (SGD with momentum, as in the tutorial) and a batch on the device, and the callable
that is timed:

  forward     net(x) in train mode, autograd recording, as in training
  inference   net(x) in eval mode under torch.inference_mode()
  backward    loss.backward() alone; ``setup`` builds a fresh graph (zero_grad, forward, loss)
              before each round, outside the timed region
  step        optimizer.step() alone, with the gradients of one backward left in place
  train_step  zero_grad, forward, loss, backward, step: the chapter's loop body

In the cudagraph mode (blitzbench.measure.modes) ``timed`` replays the phase captured once as a CUDA graph;
in the compiled modes the model is wrapped in torch.compile. Nothing here times anything;
blitzbench.measure.timing does, and blitzbench.measure.checks makes sure the computation is right
before it is timed.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from blitzbench.measure import modes
from blitzbench.measure.batches import class_targets, images, seeded_model
from blitzbench.cases import Case
from reference_models import MODELS, cuda_graphs
from reference_models import training_step as steps

LEARNING_RATE, MOMENTUM = steps.TUTORIAL_LR, steps.MOMENTUM  # the tutorial's optimizer


class Workload:
    def __init__(self, case: Case):
        self.case = case
        spec = MODELS[case.model]
        self.num_classes = spec.num_classes
        self.net = seeded_model(case.model, case.device)
        self.x = images(case.model, case.batch_size, case.device)
        if case.memory_format == "channels_last":
            self.net = self.net.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.target = class_targets(case.model, case.batch_size, case.device)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
        self.forward_fn = modes.compile_model(self.net, case.mode)
        self._graph = self._graph_output = None  # cudagraph mode: captured on first use
        if case.phase == "inference":
            self.net.eval()
        else:
            self.net.train()

    def autocast(self):
        """Mixed precision for the bfloat16 / float16 axes (CUDA autocast); nothing for float32."""
        if self.case.dtype == "float32":
            return contextlib.nullcontext()
        # A captured graph may not keep autocast's cache of cast weights (freed on exit).
        return torch.autocast(device_type=self.case.device, dtype=getattr(torch, self.case.dtype),
                              cache_enabled=self.case.mode != "cudagraph")

    def run_model(self, x: torch.Tensor) -> torch.Tensor:
        """The model in the case's mode (eager, or compiled)."""
        if self.case.mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # each call is a new iteration of the trees
        return self.forward_fn(x)

    def _model_output(self) -> torch.Tensor:
        return self.run_model(self.x)

    def loss(self) -> torch.Tensor:
        with self.autocast():
            return F.cross_entropy(self._model_output(), self.target)

    # -- the timed callables -------------------------------------------------------------------
    def forward(self):
        with self.autocast():
            return self._model_output()

    def inference(self):
        with torch.inference_mode(), self.autocast():
            return self._model_output()

    def fresh_graph(self):
        """pytest-benchmark pedantic ``setup``: a new graph for the next timed backward."""
        self.optimizer.zero_grad(set_to_none=True)
        return (self.loss(),), {}

    @staticmethod
    def backward(loss: torch.Tensor):
        loss.backward()

    def step(self):
        self.optimizer.step()

    def train_step(self):
        return steps.training_step(self.run_model, self.optimizer, self.x, self.target, autocast=self.autocast())

    @property
    def timed(self):
        """The callable that is timed: the phase, or in cudagraph mode its graph's replay."""
        if self.case.mode == "cudagraph":
            if self._graph is None:
                self.capture()
            return self._replay
        return getattr(self, self.case.phase)

    def capture(self) -> None:
        """cudagraph mode: capture the phase once (after warm-up calls on a side stream)."""
        self.prepare()
        self._graph, self._graph_output = cuda_graphs.capture(getattr(self, self.case.phase))

    def _replay(self):
        self._graph.replay()
        return self._graph_output

    def parameters_now(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in self.net.named_parameters()}

    def gradients_now(self) -> dict[str, torch.Tensor]:
        return {name: p.grad.detach().clone() for name, p in self.net.named_parameters() if p.grad is not None}

    def prepare(self) -> None:
        """State the timed callable expects: for ``step``, gradients in place."""
        if self.case.phase == "step" and any(p.grad is None for p in self.net.parameters()):
            self.fresh_graph()[0][0].backward()
