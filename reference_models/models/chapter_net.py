"""The chapter's ``Net`` (section 2, "Building a basic network"), exactly as written.

    conv1 = Conv2d(1, 6, 3); conv2 = Conv2d(6, 16, 3)
    fc1 = Linear(16*6*6, 120); fc2 = Linear(120, 84); fc3 = Linear(84, 10)
    forward: max_pool2d(conv1(x), 2) -> max_pool2d(conv2(x), 2) -> view(-1, get_featuresize(x))
             -> relu(fc1) -> relu(fc2) -> fc3

Unlike the official tutorial (see :mod:`reference_models.models.lenet`), the chapter applies
max-pooling straight to each convolution's output, with no ReLU there. Input: 1x32x32.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .custom_linear import linear_layer


class Net(nn.Module):
    def __init__(self, linear: str = "torch"):
        super().__init__()
        Linear = linear_layer(linear)
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = Linear(16 * 6 * 6, 120)
        self.fc2 = Linear(120, 84)
        self.fc3 = Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2)
        x = F.max_pool2d(self.conv2(x), 2)
        x = x.view(-1, self.get_featuresize(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

    def get_featuresize(self, x):
        """Number of features per sample: the product of every dimension but the first."""
        size = x.size()[1:]
        count = 1
        for i in size:
            count *= i
        return count
