"""The command line's shared pieces: bad input is one line and exit status 2, help that shows each
option's default and accepted values, outputs checked before any work, and paths shown as the
reader can use them.

argparse's own error prints the usage block and the message; a user who mistyped one value
needs only the message, which here always says what is accepted. Torch-free: the report's
environment has no torch, and ``--help`` answers without importing it.
"""

from __future__ import annotations

import argparse
import math
import textwrap
from pathlib import Path

from blitzbench import values
from blitzbench.messages import BadInput, shown  # noqa: F401  (the commands' one-line errors)


def _has_default(value) -> bool:
    """Whether a default is worth showing: not None, not SUPPRESS, not a flag's False, not empty."""
    if value is None or value is False or value is argparse.SUPPRESS:
        return False
    return not (isinstance(value, (list, tuple, set, dict, str)) and len(value) == 0)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written (a module's docstring reads as it does in the source); each
    option's help ends with its default and, for a fixed set of values, the values accepted,
    unless its help already says them."""

    def _get_help_string(self, action):
        text = action.help or ""
        # argparse lists choices as {a,b} itself unless a metavar stands in for them
        shown_by_argparse = action.choices is not None and action.metavar is None
        accepted = action.choices if action.choices is not None else getattr(action.type, "accepted", None)
        if accepted and not shown_by_argparse and not all(str(value) in text for value in accepted):
            text += f" (one of: {', '.join(map(str, accepted))})"
        if "default" not in text and _has_default(action.default):
            text += " (default: %(default)s)"
        return text

    def _split_lines(self, text, width):
        # Whole words only: a case id such as chapter_net-cpu-bs4-forward stays on one line.
        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width, break_on_hyphens=False)


class OneLineParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _whole_number(text: str, least: int | None) -> int:
    """blitzbench.values.whole_number as an argparse type: its message is argparse's one line."""
    try:
        return values.whole_number(text, least)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def whole_number(text: str) -> int:
    return _whole_number(text, None)


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; accepted: a positive number such as 0.01") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not accepted: a positive, finite number such as 0.01")
    return value


def fraction(text: str) -> float:
    """A number strictly between 0 and 1, such as a tolerance of 0.05."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; accepted: a number between 0 and 1, "
                                         "such as 0.05") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not accepted: a number between 0 and 1 (both excluded), "
                                         "such as 0.05")
    return value


def choice(accepted):
    """A type that takes one of ``accepted`` and otherwise says which are (``.accepted``: the help
    lists them)."""
    def parse(text: str) -> str:
        if text not in accepted:
            raise argparse.ArgumentTypeError(f"{text!r} is unknown; accepted: {', '.join(accepted)}")
        return text
    parse.accepted = tuple(accepted)
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


def split_pytest_args(argv) -> tuple[list[str], list[str]]:
    """(the command's own arguments, the pytest arguments after ``--``)."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1:]


def check_output_folder(option: str, path: Path, empty: bool = False) -> None:
    """A folder results are written into, checked before any work starts; BadInput (one line) if
    it is a file or inside one, and, with ``empty``, if it already holds anything (files there are
    never overwritten: accepted then is a new or empty folder)."""
    path = Path(path)
    accepted = "a new or empty folder" if empty else "a folder (new, or one that exists)"
    if path.exists() and not path.is_dir():
        raise BadInput(f"{option} {shown(path)}: is a file; accepted: {accepted}")
    for parent in path.resolve().parents:
        if parent.exists():
            if not parent.is_dir():
                raise BadInput(f"{option} {shown(path)}: {shown(parent)} is a file, not a folder")
            break
    if empty and path.is_dir() and any(path.iterdir()):
        raise BadInput(f"{option} {shown(path)}: holds files already, which are never overwritten; accepted: {accepted}")
