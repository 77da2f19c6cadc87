"""The chapter's networks, a registry to build them by name, and from-definition references.

    >>> import reference_models
    >>> net = reference_models.build("chapter_net")
    >>> reference_models.MODELS["chapter_net"].input_shape
    (1, 32, 32)
"""

from .registry import MODELS, ModelSpec, build, get_spec

__all__ = ["MODELS", "ModelSpec", "build", "get_spec"]
