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


def _is_saved_run(path: Path) -> bool:
    """Whether ``path`` holds a saved benchmark run (pytest-benchmark JSON: a 'benchmarks' list and
    'machine_info'), the one thing the suite cannot make again."""
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(1 << 16)
            if '"benchmarks"' not in head and '"machine_info"' not in head:
                return False
            data = json.loads(head + fh.read())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("benchmarks"), list) and "machine_info" in data


def check_outputs(outputs: dict[str, Path | None], inputs=(), suffixes: dict[str, tuple[str, ...]] | None = None) -> None:
    """Every output path checked before any work starts; BadInput (one line) for the first that
    would lose something or cannot be written.

    ``outputs``: option name -> path (None: not asked for). Refused: a path that is a folder, one
    of the ``inputs`` (files read, or a file inside a folder read), an existing saved run, a path
    two options name, a path whose folder is a file, a name without one of the option's
    ``suffixes``. An earlier output of the same option (a report, say) may be replaced.
    """
    suffixes = suffixes or {}
    inputs = [Path(p) for p in inputs]
    seen: dict[Path, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        path = Path(path)
        accepted = suffixes.get(option)
        if str(path) in ("", ".") or path.is_dir():
            raise BadInput(f"{option} {shown(path)}: is a folder; accepted: a file name"
                           + (f" ending in {' or '.join(accepted)}" if accepted else ""))
        if accepted and path.suffix.lower() not in accepted:
            raise BadInput(f"{option} {shown(path)}: accepted: a file name ending in {' or '.join(accepted)}")
        resolved = path.resolve()
        for parent in resolved.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise BadInput(f"{option} {shown(path)}: {shown(parent)} is a file, not a folder")
                break
        if resolved in seen:
            raise BadInput(f"{option} {shown(path)}: is also the output of {seen[resolved]}; accepted: a file of its own")
        seen[resolved] = option
        for source in inputs:
            source = source.resolve()
            if resolved == source:
                raise BadInput(f"{option} {shown(path)}: is one of the inputs; accepted: a new file name")
        if path.exists() and _is_saved_run(path):
            raise BadInput(f"{option} {shown(path)}: is a saved benchmark run, never overwritten; "
                           "accepted: a new file name (or an earlier output of this option)")
