"""The chapter's network in the official "60 minute blitz" tutorial's form.

The same layers as :mod:`reference_models.models.chapter_net` (Conv2d(1,6,3), Conv2d(6,16,3),
Linear(576,120), Linear(120,84), Linear(84,10); input 1x32x32), but with a ReLU after each
convolution, before its 2x2 max-pooling, as the tutorial's "Define the network" writes it:

    max_pool2d(relu(conv1(x)), (2, 2)) -> max_pool2d(relu(conv2(x)), 2) -> flatten
    -> relu(fc1) -> relu(fc2) -> fc3

(Later editions of the tutorial use 5x5 kernels; the chapter's notes follow the 3x3 edition.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .custom_linear import linear_layer


class LeNet(nn.Module):
    def __init__(self, linear: str = "torch"):
        super().__init__()
        Linear = linear_layer(linear)
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = Linear(16 * 6 * 6, 120)
        self.fc2 = Linear(120, 84)
        self.fc3 = Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x
