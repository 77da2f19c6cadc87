"""Command-line pieces of the torch-free tools (blitzbench.analysis.report, blitzbench.matrix): bad input is one line
and exit status 2, and paths are shown as the reader can use them.

reference_models.cli_args has the same parser for the suite's other commands; importing it
imports torch (through reference_models), which the report's environment does not have.
"""

from __future__ import annotations

import argparse
from pathlib import Path


class BadInput(Exception):
    """What was wrong and what is accepted, in one line."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def shown(path: Path) -> str:
    """A path as the reader can use it: relative to the current folder when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
