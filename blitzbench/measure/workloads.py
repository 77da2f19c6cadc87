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
blitzbench.measure.timing does, and :meth:`Workload.check` makes sure the computation is right before it is
timed (blitzbench.measure.mode_check.verify checks a mode against eager).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import torch
import torch.nn.functional as F

from blitzbench.measure import devices, modes, tolerances
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

    # -- what is about to be timed ---------------------------------------------------------------
    def check(self) -> None:
        """Run the phase once and check its result; AssertionError says what is wrong. A case
        in a configuration other than eager float32 contiguous is also compared with that one
        (:meth:`compare_with_eager_float32`)."""
        self._check_call()
        if self.case != reference_case(self.case):
            self.compare_with_eager_float32()

    def compare_with_eager_float32(self) -> None:
        """One call of the phase in this configuration against one in eager float32 contiguous,
        both from the seed on fresh workloads, TF32 off: outputs, gradients and the step's update
        within blitzbench.measure.tolerances.network_tolerances for the case's dtype. (A cudagraph capture's
        warm-up steps move the weights before the first replay, so for its step and train_step
        the update is left to blitzbench.measure.mode_check.verify, which undoes them.)"""
        case, phase = self.case, self.case.phase
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

    def _check_call(self) -> None:
        n, c = self.case.batch_size, self.num_classes
        phase = self.case.phase
        if phase in ("forward", "inference"):
            out = self.timed()
            assert out.shape == (n, c), f"output shape {tuple(out.shape)}, expected {(n, c)}"
            assert torch.isfinite(out).all(), "output has non-finite values"
            assert out.requires_grad == (phase == "forward"), f"{phase}: autograd recording is {out.requires_grad}"
        elif phase == "backward":
            (loss,), _ = self.fresh_graph()
            assert math.isfinite(loss.item()), f"loss is {loss.item()}"
            self.backward(loss)
            self._check_gradients()
        elif phase == "step":
            self.fresh_graph()[0][0].backward()  # gradients to step with, left in place
            self._check_gradients()
            before = [p.detach().clone() for p in self.net.parameters()]
            self.timed()
            moved = any(not torch.equal(b, p) for b, p in zip(before, self.net.parameters()))
            assert moved, "optimizer.step() left every parameter unchanged"
            assert all(torch.isfinite(p).all() for p in self.net.parameters()), "parameters became non-finite"
        elif phase == "train_step":
            loss = self.timed()
            assert math.isfinite(loss.item()), f"loss is {loss.item()}"
            self._check_gradients()
        else:
            raise AssertionError(f"unknown phase {phase!r}")

    def _check_gradients(self) -> None:
        for name, p in self.net.named_parameters():
            assert p.grad is not None, f"{name} has no gradient"
            assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"

    def parameters_now(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in self.net.named_parameters()}

    def gradients_now(self) -> dict[str, torch.Tensor]:
        return {name: p.grad.detach().clone() for name, p in self.net.named_parameters() if p.grad is not None}

    def prepare(self) -> None:
        """State the timed callable expects: for ``step``, gradients in place."""
        if self.case.phase == "step" and any(p.grad is None for p in self.net.parameters()):
            self.fresh_graph()[0][0].backward()


def reference_case(case: Case) -> Case:
    """The configuration a case is compared with: eager, float32, contiguous."""
    return dataclasses.replace(case, dtype="float32", memory_format="contiguous", mode="eager")


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
