"""From-definition oracles: layers, losses, whole networks (forward and backprop), optimizers.

A reference never calls the torch routine it checks; see each module's docstring for the formula.
"""

from . import layers, losses, networks, optimizers

__all__ = ["layers", "losses", "networks", "optimizers"]
