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


# -- the class dimension anywhere: log-softmax over any dim, NLL and cross-entropy on (N, C, d1, ...) --
#
# torch.nn.NLLLoss and torch.nn.CrossEntropyLoss take an input (N, C) or (N, C, d1, ..., dK) with the
# class dimension at dim 1, and class-index targets (N,) or (N, d1, ..., dK): every position
# (n, d1, ..., dK) is one sample. The functions below move the classes last and flatten the
# positions into rows, so that the per-row formulas above apply.

def log_softmax_along(z: Tensor, dim: int) -> Tensor:
    """log p over dimension ``dim``: :func:`log_softmax` with that dimension moved last and back."""
    return log_softmax(z.movedim(dim, -1)).movedim(-1, dim)


def log_softmax_backward(grad_y: Tensor, z: Tensor, dim: int) -> Tensor:
    """d z of y = log_softmax(z) along ``dim``: d log p_i / d z_j = [i = j] - p_j, so
    d z_j = g_j - p_j sum_i g_i."""
    p = torch.exp(log_softmax_along(z, dim))
    return grad_y - p * grad_y.sum(dim=dim, keepdim=True)


def _rows(x: Tensor) -> Tensor:
    """(N, C, d1, ..., dK) -> (N d1 ... dK, C): one row per position, classes last."""
    return x.movedim(1, -1).reshape(-1, x.shape[1])


def _unrows(rows: Tensor, shape: torch.Size) -> Tensor:
    """The inverse of :func:`_rows` for a tensor of ``shape`` (N, C, d1, ..., dK)."""
    n, c, *positions = shape
    return rows.reshape(n, *positions, c).movedim(-1, 1)


def _scaled_by_upstream(grad_rows: Tensor, reduction: str, grad_output: Tensor | float | None) -> Tensor:
    """The chain rule's last factor: a scalar upstream gradient, or one per position for 'none'."""
    if grad_output is None:
        if reduction == "none":
            raise ValueError("reduction 'none' needs grad_output, one value per position")
        return grad_rows
    if isinstance(grad_output, Tensor) and grad_output.dim() > 0:
        return grad_rows * grad_output.reshape(-1, 1)
    return grad_rows * grad_output


def _rows_and_weighted_targets(log_probs: Tensor, target: Tensor, weight: Tensor | None,
                               ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """What the NLL loss and its gradient both read, one entry per position: the rows of
    ``log_probs`` (:func:`_rows`); each position's target class, 0 where it is ignored, so that it
    can index; and w[y], 0 where ignored, the factor that leaves those positions out of the sum and
    out of the mean's denominator."""
    rows, flat_target = _rows(log_probs), target.reshape(-1)
    w = weight if weight is not None else rows.new_ones(rows.shape[1])
    kept = flat_target != ignore_index
    safe_target = torch.where(kept, flat_target, torch.zeros_like(flat_target))
    return rows, safe_target, w[safe_target] * kept.to(rows.dtype)


def nll_loss(log_probs: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of (N, C, d1, ...) log-probabilities at class-index targets (N, d1, ...):
    l = -w[y] log_probs[n, y, d1, ...] where y != ignore_index (else 0); 'mean' divides the sum by
    the sum of w[y] over the kept positions (torch.nn.NLLLoss's definition); 'none' has the
    target's shape."""
    _check_reduction(reduction)
    rows, safe_target, w_target = _rows_and_weighted_targets(log_probs, target, weight, ignore_index)
    per_position = -w_target * rows.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    if reduction == "none":
        return per_position.reshape(target.shape)
    return per_position.sum() / w_target.sum() if reduction == "mean" else per_position.sum()


def nll_loss_backward(log_probs: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                      reduction: str = "mean", grad_output: Tensor | float | None = None) -> Tensor:
    """d loss / d log_probs of :func:`nll_loss`: -w[y] at the target class of each kept position (divided
    by the sum of w[y] kept for 'mean'), 0 elsewhere; times ``grad_output`` (1 when None for 'mean' and
    'sum'; for 'none', one value per position, the target's shape)."""
    _check_reduction(reduction)
    rows, safe_target, w_target = _rows_and_weighted_targets(log_probs, target, weight, ignore_index)
    c = rows.shape[1]
    one_hot = (safe_target.unsqueeze(1) == torch.arange(c, device=rows.device)).to(rows.dtype)
    grad = -w_target.unsqueeze(1) * one_hot
    if reduction == "mean":
        grad = grad / w_target.sum()
    return _unrows(_scaled_by_upstream(grad, reduction, grad_output), log_probs.shape)


def cross_entropy_nd(logits: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                     reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """:func:`cross_entropy` of (N, C, d1, ...) logits, the classes at dim 1, against class indices
    (N, d1, ...) or probabilities (N, C, d1, ...); 'none' has the shape (N, d1, ...)."""
    flat_target = _rows(target) if target.dtype.is_floating_point else target.reshape(-1)
    value = cross_entropy(_rows(logits), flat_target, weight, ignore_index, reduction, label_smoothing)
    return value.reshape(logits.shape[:1] + logits.shape[2:]) if reduction == "none" else value


def cross_entropy_nd_backward(logits: Tensor, target: Tensor, weight: Tensor | None = None,
                              ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0,
                              grad_output: Tensor | float | None = None) -> Tensor:
    """d loss / d logits of :func:`cross_entropy_nd`: per position (sum_c a_c) softmax(z) - a, with the
    coefficients a of the module docstring, divided by the 'mean' denominator; times ``grad_output``
    (as in :func:`nll_loss_backward`)."""
    _check_reduction(reduction)
    rows = _rows(logits)
    flat_target = _rows(target) if target.dtype.is_floating_point else target.reshape(-1)
    a, denominator = _coefficients(rows, flat_target, weight, ignore_index, label_smoothing)
    grad = a.sum(dim=1, keepdim=True) * torch.exp(log_softmax(rows)) - a
    if reduction == "mean":
        grad = grad / denominator
    return _unrows(_scaled_by_upstream(grad, reduction, grad_output), logits.shape)
