"""Help that helps: ``blitzbench SUB --help`` answers without importing torch, says what the
module's docstring says rather than pointing at it, shows every option's default and lists the
values of every option that takes one of a fixed set.

Each subcommand's help runs in its own Python, through a small wrapper that records the parser
the subcommand built (so each option's own help block can be read) and checks, after main
returns, that torch was never imported."""

import json
import subprocess
import sys

import pytest

from blitzbench import ROOT
from blitzbench.cli.main import SUBCOMMANDS

WRAPPER = r"""
import argparse, json, sys

name, record = sys.argv[1], sys.argv[2]
parsers = []
parse_known_args = argparse.ArgumentParser.parse_known_args


def recording(self, *args, **kwargs):
    parsers.append(self)
    return parse_known_args(self, *args, **kwargs)


argparse.ArgumentParser.parse_known_args = recording
from blitzbench.cli.main import main

try:
    status = main([name, "--help"])
except SystemExit as stop:
    status = stop.code
assert "torch" not in sys.modules, f"blitzbench {name} --help imported torch"
parser = next(p for p in parsers if p.prog == f"blitzbench {name}")
options = []
for action in parser._actions:
    if action.help == argparse.SUPPRESS:
        continue
    formatter = parser._get_formatter()
    formatter.add_argument(action)
    default = action.default
    options.append({
        "names": action.option_strings or [action.dest],
        "has_default": not (default is None or default is False or default is argparse.SUPPRESS),
        "accepted": [str(v) for v in (action.choices or getattr(action.type, "accepted", None) or ())],
        "block": formatter.format_help(),
    })
with open(record, "w") as fh:
    json.dump({"status": status or 0, "options": options}, fh)
"""


def help_of(name: str, tmp_path) -> tuple[subprocess.CompletedProcess, dict]:
    record = tmp_path / "record.json"
    done = subprocess.run([sys.executable, "-c", WRAPPER, name, str(record)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done, json.loads(record.read_text())


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_help_answers_without_torch_and_says_what_the_docstring_says(name, tmp_path):
    done, record = help_of(name, tmp_path)
    assert record["status"] == 0
    assert f"usage: blitzbench {name}" in done.stdout
    assert "see the module docstring" not in done.stdout.lower()
    assert "module docstring" not in done.stdout.lower()


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_help_shows_every_default_and_every_fixed_set_of_values(name, tmp_path):
    _, record = help_of(name, tmp_path)
    assert record["options"], "no option found"
    for option in record["options"]:
        block = option["block"]
        if option["has_default"]:
            assert "default" in block, f"{option['names']}: its default is not shown:\n{block}"
        missing = [value for value in option["accepted"] if value not in block]
        assert not missing, f"{option['names']}: accepted values not listed: {missing}\n{block}"


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_help_describes_the_subcommand_with_its_docstring(name, tmp_path):
    """The description is the module's docstring itself: its first line is in the help."""
    import importlib

    done, _ = help_of(name, tmp_path)
    module = importlib.import_module(SUBCOMMANDS[name][0])
    first = module.__doc__.strip().splitlines()[0]
    assert first in done.stdout
