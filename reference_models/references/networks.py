"""Whole-network references: forward and backprop for every registered model.

All three models share one shape (the chapter's section 2):

    conv1 -> [relu] -> max_pool 2x2 -> conv2 -> [relu] -> max_pool 2x2 -> flatten
    -> fc1 -> relu -> fc2 -> relu -> fc3

with the bracketed ReLUs present in the tutorial's forms (lenet, cifar_net) and absent from the
chapter's Net. :func:`forward` computes the logits from :mod:`.layers`, reading the module's own
parameters; :func:`backward` walks the same steps in reverse with each layer's hand-written
gradient (the chain rule written out), so neither calls torch's layers nor its autograd.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from ..registry import MODELS, ModelSpec
from . import layers, losses

PARAMETER_NAMES = tuple(
    f"{layer}.{kind}" for layer in ("conv1", "conv2", "fc1", "fc2", "fc3") for kind in ("weight", "bias")
)


def parameters_of(model: nn.Module) -> dict[str, Tensor]:
    """The module's parameters by name, detached (the reference reads them, never trains them)."""
    params = {name: p.detach() for name, p in model.named_parameters()}
    missing = [name for name in PARAMETER_NAMES if name not in params]
    if missing:
        raise ValueError(f"model has no parameter(s) {', '.join(missing)}; expected {', '.join(PARAMETER_NAMES)}")
    return params


@dataclass
class Trace:
    """What the forward keeps for the backward: each step's input."""

    spec: ModelSpec
    params: dict[str, Tensor]
    inputs: dict[str, Tensor] = field(default_factory=dict)
    logits: Tensor | None = None


def forward(spec: ModelSpec | str, params: dict[str, Tensor], x: Tensor) -> Trace:
    """Run the reference forward for ``spec`` on a batch ``x`` (N, C, H, W)."""
    spec = MODELS[spec] if isinstance(spec, str) else spec
    t = Trace(spec, params)
    h = x
    for conv in ("conv1", "conv2"):
        t.inputs[conv] = h
        h = layers.conv2d(h, params[f"{conv}.weight"], params[f"{conv}.bias"])
        if spec.relu_after_conv:
            t.inputs[f"{conv}.relu"] = h
            h = layers.relu(h)
        t.inputs[f"{conv}.pool"] = h
        h = layers.max_pool2d(h, 2)
    t.inputs["flatten"] = h
    h = h.reshape(h.shape[0], -1)
    for fc in ("fc1", "fc2", "fc3"):
        t.inputs[fc] = h
        h = layers.linear(h, params[f"{fc}.weight"], params[f"{fc}.bias"])
        if fc != "fc3":
            t.inputs[f"{fc}.relu"] = h
            h = layers.relu(h)
    t.logits = h
    return t


def backward(t: Trace, grad_logits: Tensor) -> dict[str, Tensor]:
    """Gradients of the loss with respect to every parameter, given d loss / d logits."""
    grads: dict[str, Tensor] = {}
    g = grad_logits
    for fc in ("fc3", "fc2", "fc1"):
        if fc != "fc3":
            g = layers.relu_backward(g, t.inputs[f"{fc}.relu"])
        g, grads[f"{fc}.weight"], grads[f"{fc}.bias"] = layers.linear_backward(
            g, t.inputs[fc], t.params[f"{fc}.weight"])
    g = g.reshape(t.inputs["flatten"].shape)
    for conv in ("conv2", "conv1"):
        g = layers.max_pool2d_backward(g, t.inputs[f"{conv}.pool"], 2)
        if t.spec.relu_after_conv:
            g = layers.relu_backward(g, t.inputs[f"{conv}.relu"])
        g, grads[f"{conv}.weight"], grads[f"{conv}.bias"] = layers.conv2d_backward(
            g, t.inputs[conv], t.params[f"{conv}.weight"])
    grads["input"] = g
    return grads


def logits(model_name: str, model: nn.Module, x: Tensor) -> Tensor:
    """The reference forward's output for ``model`` (registered as ``model_name``) on ``x``."""
    return forward(model_name, parameters_of(model), x).logits


def loss_and_gradients(model_name: str, model: nn.Module, x: Tensor, target: Tensor,
                       loss: str = "cross_entropy") -> tuple[Tensor, dict[str, Tensor]]:
    """Reference backprop: the loss and d loss / d parameter for every parameter (and the input).

    ``loss`` is ``"mse"`` (target shaped like the logits, as in the chapter's section 4) or
    ``"cross_entropy"`` (class indices), both with mean reduction.
    """
    t = forward(model_name, parameters_of(model), x)
    if loss == "mse":
        value, grad = losses.mse(t.logits, target), losses.mse_backward(t.logits, target)
    elif loss == "cross_entropy":
        value, grad = losses.cross_entropy(t.logits, target), losses.cross_entropy_backward(t.logits, target)
    else:
        raise ValueError(f"unknown loss {loss!r}; accepted: mse, cross_entropy")
    return value, backward(t, grad)
