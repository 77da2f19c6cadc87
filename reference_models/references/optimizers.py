"""Optimizer updates written from their equations (the chapter's section 6).

Each class holds its own copy of the parameters and state and applies one update per
:meth:`step` call, given the gradients, in plain tensor arithmetic; torch.optim is never used.
The equations are those of the torch.optim documentation.

SGD (learning rate g, momentum mu, dampening tau, weight decay lambda):
    d = -grad if maximize else grad
    d = d + lambda * theta                                   (if lambda != 0)
    b = d at the first step, else mu * b + (1 - tau) * d     (if mu != 0)
    d = d + mu * b if nesterov else b                        (if mu != 0)
    theta = theta - g * d

Adam (learning rate g, betas (b1, b2), eps, weight decay lambda), step t = 1, 2, ...:
    d = -grad if maximize else grad
    d = d + lambda * theta                                   (if lambda != 0)
    m = b1 m + (1 - b1) d;   v = b2 v + (1 - b2) d^2
    m_hat = m / (1 - b1^t)
    v_hat = max(v_max, v) / (1 - b2^t) with v_max kept, if amsgrad; else v / (1 - b2^t)
    theta = theta - g * m_hat / (sqrt(v_hat) + eps)

AdamW (decoupled weight decay, Loshchilov and Hutter): as Adam without the L2 term in d, and
    theta = theta (1 - g lambda)                             before the Adam update

Each :meth:`step` takes the gradients and, optionally, the parameters to update (``params``):
given, the step starts from them instead of the reference's own copy, so that a low-precision
run can be checked one step at a time from the values torch actually holds ("from the same
inputs"), while the state (momentum, m, v) is the reference's own, in float64. Each step also
records :attr:`bounds`, per parameter, an upper bound of the sum of the magnitudes of the terms
that make up that step's update (the same recurrences on absolute values), which scales the
rounding error of a low-precision update (blitzbench.measure.tolerances.optimizer_step_tolerance).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


class ReferenceSGD:
    def __init__(self, params: Sequence[Tensor], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 maximize: bool = False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.params = [p.detach().clone() for p in params]
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov, self.maximize = weight_decay, nesterov, maximize
        self.buffers: list[Tensor | None] = [None] * len(self.params)
        self.magnitudes: list[Tensor | None] = [None] * len(self.params)
        self.bounds: list[Tensor] = []

    def step(self, grads: Sequence[Tensor], params: Sequence[Tensor] | None = None) -> list[Tensor]:
        if params is not None:
            self.params = [p.detach().to(torch.float64).clone() for p in params]
        self.bounds = []
        for i, (theta, grad) in enumerate(zip(self.params, grads)):
            d = -grad if self.maximize else grad
            size = grad.abs()  # |terms| of d, then of the buffer and the update
            if self.weight_decay != 0:
                d = d + self.weight_decay * theta
                size = size + self.weight_decay * theta.abs()
            if self.momentum != 0:
                b, bm = self.buffers[i], self.magnitudes[i]
                if b is None:
                    b, bm = d, size
                else:
                    b = self.momentum * b + (1 - self.dampening) * d
                    bm = self.momentum * bm + (1 - self.dampening) * size
                self.buffers[i], self.magnitudes[i] = b, bm
                d = d + self.momentum * b if self.nesterov else b
                size = size + self.momentum * bm if self.nesterov else bm
            self.params[i] = theta - self.lr * d
            self.bounds.append(abs(self.lr) * size)
        return self.params


class ReferenceAdam:
    decoupled = False  # weight decay as an L2 term in d (Adam); AdamW decays theta itself

    def __init__(self, params: Sequence[Tensor], lr: float = 1e-3, betas=(0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False):
        self.params = [p.detach().clone() for p in params]
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.weight_decay, self.amsgrad, self.maximize = weight_decay, amsgrad, maximize
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.v_max = [torch.zeros_like(p) for p in self.params]
        self.m_size = [torch.zeros_like(p) for p in self.params]  # m on |d|
        self.bounds: list[Tensor] = []

    def step(self, grads: Sequence[Tensor], params: Sequence[Tensor] | None = None) -> list[Tensor]:
        if params is not None:
            self.params = [p.detach().to(torch.float64).clone() for p in params]
        self.t += 1
        self.bounds = []
        bias1, bias2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        for i, (theta, grad) in enumerate(zip(self.params, grads)):
            d = -grad if self.maximize else grad
            size = grad.abs()
            decay = 0.0
            if self.weight_decay != 0 and self.decoupled:
                decay = self.lr * self.weight_decay * theta.abs()
                theta = theta * (1 - self.lr * self.weight_decay)
            elif self.weight_decay != 0:
                d = d + self.weight_decay * theta
                size = size + self.weight_decay * theta.abs()
            self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * d
            self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * d * d
            self.m_size[i] = self.beta1 * self.m_size[i] + (1 - self.beta1) * size
            m_hat = self.m[i] / bias1
            if self.amsgrad:
                self.v_max[i] = torch.maximum(self.v_max[i], self.v[i])
                v_hat = self.v_max[i] / bias2
            else:
                v_hat = self.v[i] / bias2
            denominator = torch.sqrt(v_hat) + self.eps
            self.params[i] = theta - self.lr * m_hat / denominator
            # |m_hat| / den, and the same over den^2 times sqrt(v_hat) for the error of den.
            m_size_hat = self.m_size[i] / bias1
            self.bounds.append(abs(self.lr) * m_size_hat * (1 / denominator + torch.sqrt(v_hat) / denominator ** 2)
                               + decay)
        return self.params


class ReferenceAdamW(ReferenceAdam):
    """Adam with decoupled weight decay (torch.optim.AdamW; its default weight decay is 0.01)."""

    decoupled = True

    def __init__(self, params: Sequence[Tensor], lr: float = 1e-3, betas=(0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
