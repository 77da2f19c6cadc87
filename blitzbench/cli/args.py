"""The command line's shared pieces: bad input is one line and exit status 2, and paths are shown
as the reader can use them.

argparse's own error prints the usage block and the message; a user who mistyped one value
needs only the message, which here always says what is accepted. Torch-free: the report's
environment has no torch.
"""

from __future__ import annotations

import argparse
import math
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


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _whole_number_from(text: str, least: int, accepted: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; accepted: {accepted}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} is below {least}; accepted: {accepted}")
    return value


def positive_int(text: str) -> int:
    return _whole_number_from(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _whole_number_from(text, 0, "a whole number, 0 or more")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; accepted: a positive number such as 0.01") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not accepted: a positive, finite number such as 0.01")
    return value


def choice(accepted):
    """A type that takes one of ``accepted`` and otherwise says which are."""
    def parse(text: str) -> str:
        if text not in accepted:
            raise argparse.ArgumentTypeError(f"{text!r} is unknown; accepted: {', '.join(accepted)}")
        return text
    return parse
