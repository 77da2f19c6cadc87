"""What the suite says when input is wrong or a run fails: one line naming what was wrong and what
is accepted, and paths as the reader can use them. Below every other module (torch-free, no
imports of the suite's own), so that measuring, analysis and the commands raise and word errors
alike."""

from __future__ import annotations

from pathlib import Path


class BadInput(Exception):
    """What was wrong and what is accepted, in one line; a command prints it and exits with 2."""


class RunFailed(Exception):
    """A child process did not finish its work (a tox run of the matrix, a torchrun job): the message
    names which one and why; a command prints it and exits with 1."""


def shown(path: Path) -> str:
    """A path as the reader can use it: relative to the current folder when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
