"""The chapter's networks, one small module each."""

from .chapter_net import Net
from .cifar_net import CifarNet
from .custom_linear import LinearFunction, ParameterLinear
from .lenet import LeNet

__all__ = ["Net", "LeNet", "CifarNet", "LinearFunction", "ParameterLinear"]
