"""Name -> model: the registry every test and benchmark builds its networks from.

``build(name, **options)`` returns a fresh ``nn.Module``; ``MODELS[name]`` says what it takes
(``input_shape`` as (C, H, W)) and gives (``num_classes``), and which reference forward in
:mod:`reference_models.references.networks` describes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from .models import CifarNet, LeNet, Net


@dataclass(frozen=True)
class ModelSpec:
    name: str
    factory: Callable[..., nn.Module]
    input_shape: tuple[int, int, int]  # (C, H, W) of one sample
    num_classes: int
    feature_size: int  # values per sample entering fc1, after the second pooling
    relu_after_conv: bool  # False for the chapter's Net, True for the tutorial's forms
    source: str  # where the architecture comes from

    def build(self, **options) -> nn.Module:
        return self.factory(**options)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("chapter_net", Net, (1, 32, 32), 10, 16 * 6 * 6, False,
                  "the chapter's Net, section 2, as written"),
        ModelSpec("lenet", LeNet, (1, 32, 32), 10, 16 * 6 * 6, True,
                  "the 60 minute blitz tutorial's Net (ReLU after each convolution)"),
        ModelSpec("cifar_net", CifarNet, (3, 32, 32), 10, 16 * 5 * 5, True,
                  "the tutorial's CIFAR-10 classifier"),
    )
}

BUILD_OPTIONS = ("linear",)


def build(name: str, **options) -> nn.Module:
    """A fresh instance of the model called ``name``.

    Options: ``linear="torch"`` (nn.Linear, the default) or ``linear="custom"`` (the hand-written
    :class:`~reference_models.models.ParameterLinear`, with its own autograd.Function).
    """
    spec = get_spec(name)
    unknown = sorted(set(options) - set(BUILD_OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for model {name!r}; accepted: {', '.join(BUILD_OPTIONS)}"
        )
    return spec.build(**options)


def get_spec(name: str) -> ModelSpec:
    """The spec for ``name``; a ValueError listing the known names if there is none."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None
