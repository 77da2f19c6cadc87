"""The tutorial's CIFAR-10 classifier ("Training a classifier", step 2: define a CNN).

    conv1 = Conv2d(3, 6, 5); pool = MaxPool2d(2, 2); conv2 = Conv2d(6, 16, 5)
    fc1 = Linear(16*5*5, 120); fc2 = Linear(120, 84); fc3 = Linear(84, 10)
    forward: pool(relu(conv1(x))) -> pool(relu(conv2(x))) -> flatten -> relu(fc1) -> relu(fc2) -> fc3

Input: 3x32x32 (a CIFAR-10 image); 10 classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .custom_linear import linear_layer


class CifarNet(nn.Module):
    def __init__(self, linear: str = "torch"):
        super().__init__()
        Linear = linear_layer(linear)
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = Linear(16 * 5 * 5, 120)
        self.fc2 = Linear(120, 84)
        self.fc3 = Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x
