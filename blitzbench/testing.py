"""Helpers shared by the suite's tests (bench/ and tests/), kept out of the test files so that no
module imports a test file."""

import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from blitzbench.analysis import verification
from blitzbench.measure import modes


def _scaled_output_backend(gm, example_inputs):
    """A torch.compile backend that gets the model wrong: every output 1% too large."""
    def run(*args):
        outputs = gm(*args)
        return type(outputs)(o * 1.01 if isinstance(o, torch.Tensor) and o.is_floating_point() else o
                             for o in outputs)
    return run


def compile_wrongly(monkeypatch) -> None:
    """Make every mode but eager compile with :func:`_scaled_output_backend` (the mode checks of
    bench/test_modes.py and the workload checks of tests/test_workloads.py must catch it)."""
    eager_or_compiled = modes.compile_model
    monkeypatch.setattr(modes, "compile_model", lambda net, mode: eager_or_compiled(net, mode) if mode == "eager"
                        else torch.compile(net, backend=_scaled_output_backend))


def exit_status(main, argv: list[str]) -> int:
    """What a command's ``main(argv)`` ends with: its return value, or the status of the
    SystemExit its parser raises on bad options (argparse exits rather than returns)."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def run_planted_suite(folder, files: dict[str, str], *pytest_args: str):
    """Write a small suite (``files``: relative path -> source, dedented) into ``folder`` with an
    empty pytest.ini, run pytest on its bench/ and tests/ there as the release matrix does, with
    JUnit XML; (the XML's path, the finished process)."""
    folder = Path(folder)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))
    (folder / "pytest.ini").write_text("[pytest]\n")
    xml = folder / "out.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "bench", "tests", *verification.RUN_OPTIONS,
                           f"--junitxml={xml}", "-q", *pytest_args],
                          cwd=folder, capture_output=True, text=True, timeout=300)
    return xml, done
