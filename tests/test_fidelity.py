"""blitzbench fidelity: bad input is one line and exit 2; each independent timing is its own process."""

import subprocess
import sys
from pathlib import Path

import pytest

from blitzbench.cli import fidelity

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cases, message", [
    ("chapter_net-cpu-bs4-backward", "phase 'backward' cannot be cross-checked"),
    ("resnet-cpu-bs4-forward", "unknown model 'resnet'"),
    ("chapter_net-cpu-4-forward", "is not of the form"),
    (",", "--cases is empty"),
])
def test_bad_cases_are_one_line_and_exit_2(cases, message, capsys):
    assert fidelity.main(["--cases", cases]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_a_cuda_case_without_cuda_says_why(capsys):
    from blitzbench.measure.devices import unavailable_reason

    if unavailable_reason("cuda") is None:
        pytest.skip("CUDA is available here: the case would run")
    assert fidelity.main(["--cases", "lenet-cuda-bs64-train_step-cudagraph"]) == 2
    assert "CUDA unavailable" in capsys.readouterr().err


def test_the_independent_timing_runs_in_its_own_process():
    done = subprocess.run([sys.executable, "-m", "blitzbench", "fidelity", "--measure", "chapter_net-cpu-bs4-forward",
                           "--min-run-time", "0.05"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seconds = float(done.stdout.strip().splitlines()[-1])
    assert 0 < seconds < 1  # a batch-4 forward of chapter_net is microseconds, not seconds
