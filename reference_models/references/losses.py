"""Loss functions from their formulas (the chapter's section 4), with their gradients.

MSE:  l_n = (x_n - y_n)^2, reduced by mean (over every element), sum, or none.

Cross-entropy over C classes with log-softmax written out as
    log p[n,c] = z[n,c] - m_n - log sum_k exp(z[n,k] - m_n),   m_n = max_k z[n,k]
and a per-sample loss l_n = - sum_c a[n,c] log p[n,c], where the coefficients a are
  - class-index targets y_n:   a[n,c] = [n kept] * ((1 - eps) w[y_n] [c = y_n] + eps / C * w[c])
    (kept: y_n != ignore_index), and 'mean' divides the sum by sum_n [n kept] w[y_n];
  - probability targets t[n,c]: a[n,c] = w[c] ((1 - eps) t[n,c] + eps / C), and 'mean' divides by N.
That is torch's documented definition (torch.nn.CrossEntropyLoss), with w = 1 when no class
weights are given and eps the label smoothing.
"""

from __future__ import annotations

import torch
from torch import Tensor

REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; accepted: {', '.join(REDUCTIONS)}")


def mse(x: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    _check_reduction(reduction)
    squared = (x - target) * (x - target)
    if reduction == "none":
        return squared
    return squared.sum() / squared.numel() if reduction == "mean" else squared.sum()


def mse_backward(x: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """d loss / d x for a scalar (mean or sum) reduction: 2 (x - y), divided by the count for mean."""
    _check_reduction(reduction)
    grad = 2 * (x - target)
    return grad / x.numel() if reduction == "mean" else grad


def log_softmax(z: Tensor) -> Tensor:
    """log p[n,c] over the last dimension, stabilised by the row maximum."""
    shifted = z - z.amax(dim=-1, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=-1, keepdim=True))


def _coefficients(logits: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                  label_smoothing: float) -> tuple[Tensor, Tensor]:
    """(a, denominator for 'mean'), as in the module docstring."""
    n, c = logits.shape
    w = weight if weight is not None else logits.new_ones(c)
    if target.dtype.is_floating_point:  # class probabilities
        probs = (1 - label_smoothing) * target + label_smoothing / c
        return probs * w, logits.new_tensor(float(n))
    kept = target != ignore_index
    safe_target = torch.where(kept, target, torch.zeros_like(target))
    one_hot = (safe_target.unsqueeze(1) == torch.arange(c, device=logits.device)).to(logits.dtype)
    w_target = (one_hot * w).sum(dim=1) * kept.to(logits.dtype)  # w[y_n], 0 where ignored
    a = (1 - label_smoothing) * w_target.unsqueeze(1) * one_hot
    a = a + (label_smoothing / c) * w.unsqueeze(0) * kept.to(logits.dtype).unsqueeze(1)
    return a, w_target.sum()


def cross_entropy(logits: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of (N, C) logits against class indices (N,) or probabilities (N, C)."""
    _check_reduction(reduction)
    a, denominator = _coefficients(logits, target, weight, ignore_index, label_smoothing)
    per_sample = -(a * log_softmax(logits)).sum(dim=1)
    if reduction == "none":
        return per_sample
    return per_sample.sum() / denominator if reduction == "mean" else per_sample.sum()


def cross_entropy_backward(logits: Tensor, target: Tensor, weight: Tensor | None = None,
                           ignore_index: int = -100, reduction: str = "mean",
                           label_smoothing: float = 0.0) -> Tensor:
    """d loss / d z for a scalar reduction: (sum_c a[n,c]) softmax(z)[n,:] - a[n,:], scaled for mean."""
    _check_reduction(reduction)
    if reduction == "none":
        raise ValueError("the gradient needs a scalar loss; accepted reductions: mean, sum")
    a, denominator = _coefficients(logits, target, weight, ignore_index, label_smoothing)
    softmax = torch.exp(log_softmax(logits))
    grad = a.sum(dim=1, keepdim=True) * softmax - a
    return grad / denominator if reduction == "mean" else grad
