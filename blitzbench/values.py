"""Values typed by a user, read from text: the one whole-number parser, behind the commands' option
types (blitzbench.cli.args) and the suite's pytest options (blitzbench.plugin.options and
.instructions). Torch-free, below every other module; errors are ValueError with one line that says
what was wrong and what is accepted.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[+-]?[0-9]+")  # decimal digits only: not 1e3, 4.5, 1_000 or other scripts' digits


def accepted_whole_numbers(least: int | None) -> str:
    """What a whole number of at least ``least`` (None: any) is, in the words of the messages."""
    if least is None:
        return "a whole number, such as 2"
    if least == 1:
        return "a positive integer"
    return f"a whole number, {least} or more"


def whole_number(text: str, least: int | None = None) -> int:
    """``text`` (spaces around it ignored, an optional sign, decimal digits) as an int of at least
    ``least``; ValueError otherwise, saying what is accepted."""
    accepted = accepted_whole_numbers(least)
    if not _DIGITS.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a whole number; accepted: {accepted}")
    value = int(text)
    if least is not None and value < least:
        raise ValueError(f"{value} is below {least}; accepted: {accepted}")
    return value
