"""Seeded models and input batches: the same weights and data on every device and every run."""

from __future__ import annotations

import torch

from reference_models import MODELS, build


def seeded_model(model_name: str, device="cpu", dtype=torch.float32, seed: int = 0, **options) -> torch.nn.Module:
    """``build(model_name)`` with weights drawn after ``torch.manual_seed(seed)``, on ``device``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(model_name, **options)
    return model.to(device=device, dtype=dtype)


def images(model_name: str, batch_size: int, device="cpu", dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    """A batch of standard-normal images shaped for ``model_name``: (N, C, H, W)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, *MODELS[model_name].input_shape, generator=g, dtype=torch.float64)
    return x.to(device=device, dtype=dtype)


def class_targets(model_name: str, batch_size: int, device="cpu", seed: int = 0) -> torch.Tensor:
    """Class indices in [0, num_classes), one per sample (the classifier's targets)."""
    g = torch.Generator().manual_seed(seed + 1)
    return torch.randint(0, MODELS[model_name].num_classes, (batch_size,), generator=g).to(device)


def regression_targets(model_name: str, batch_size: int, device="cpu", dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    """``torch.randn(10).view(1, -1)`` of the chapter's section 4, one row per sample."""
    g = torch.Generator().manual_seed(seed + 2)
    t = torch.randn(batch_size, MODELS[model_name].num_classes, generator=g, dtype=torch.float64)
    return t.to(device=device, dtype=dtype)
