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

    def step(self, grads: Sequence[Tensor]) -> list[Tensor]:
        for i, (theta, grad) in enumerate(zip(self.params, grads)):
            d = -grad if self.maximize else grad
            if self.weight_decay != 0:
                d = d + self.weight_decay * theta
            if self.momentum != 0:
                b = self.buffers[i]
                b = d if b is None else self.momentum * b + (1 - self.dampening) * d
                self.buffers[i] = b
                d = d + self.momentum * b if self.nesterov else b
            self.params[i] = theta - self.lr * d
        return self.params


class ReferenceAdam:
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

    def step(self, grads: Sequence[Tensor]) -> list[Tensor]:
        self.t += 1
        for i, (theta, grad) in enumerate(zip(self.params, grads)):
            d = -grad if self.maximize else grad
            if self.weight_decay != 0:
                d = d + self.weight_decay * theta
            self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * d
            self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * d * d
            m_hat = self.m[i] / (1 - self.beta1 ** self.t)
            if self.amsgrad:
                self.v_max[i] = torch.maximum(self.v_max[i], self.v[i])
                v_hat = self.v_max[i] / (1 - self.beta2 ** self.t)
            else:
                v_hat = self.v[i] / (1 - self.beta2 ** self.t)
            self.params[i] = theta - self.lr * m_hat / (torch.sqrt(v_hat) + self.eps)
        return self.params
