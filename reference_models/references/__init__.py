"""From-definition oracles: layers, losses, whole networks (forward and backprop), optimizers,
learning-rate schedules and image transforms.

A reference never calls the torch routine it checks; see each module's docstring for the formula.
"""

from . import layers, losses, networks, optimizers, schedules, transforms

__all__ = ["layers", "losses", "networks", "optimizers", "schedules", "transforms"]
