"""blitzbench matrix: interleaved order, the rounds it records, progress, failures, Ctrl-C, bad input.

tox itself is replaced by tests/tools/fake_tox.py (a real tox environment is a multi-GB torch
install); in one end-to-end test it runs the real suite for one env, as the tox environments do.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blitzbench import matrix
from blitzbench.cli import report

ROOT = Path(__file__).resolve().parents[1]
FAKE_TOX = Path(__file__).resolve().parent / "tools" / "fake_tox.py"


def run_matrix(tmp_path, *args, envs="torch24,torch215,torch214", fake_env=None, wait=True):
    env = dict(os.environ, FAKE_TOX_ENVS=envs, FAKE_TOX_CALLS=str(tmp_path / "calls.jsonl"), **(fake_env or {}))
    command = [sys.executable, "-m", "blitzbench", "matrix", "--tox", f"{sys.executable} {FAKE_TOX}",
               "--results-dir", str(tmp_path / "results"), *args]
    if not wait:
        # SIGINT back to its default in the child: a shell that runs this suite in the background
        # (CI, nohup ... &) starts it with SIGINT ignored, and Python then never turns it into
        # KeyboardInterrupt, so Ctrl-C could not be tested.
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def calls(tmp_path):
    path = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_order_is_counterbalanced_round_by_round():
    assert matrix.order(["a", "b"], 1) == ["a", "b"] and matrix.order(["a", "b"], 2) == ["b", "a"]
    assert matrix.schedule(["a", "b", "c"], 3) == [(1, "a"), (1, "b"), (1, "c"), (2, "c"), (2, "b"), (2, "a"),
                                                     (3, "a"), (3, "b"), (3, "c")]
    assert matrix.DEFAULT_ROUNDS == 6  # the fewest rounds whose interval for a median reaches 95%


def test_runs_interleave_create_first_record_rounds_and_report_progress(tmp_path):
    done = run_matrix(tmp_path, "torch24,torch215", "--rounds", "3", "--", "--quick", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    made = calls(tmp_path)
    assert [env for env, argv in made if "--notest" in argv] == ["torch24", "torch215"]
    runs = [(env, argv) for env, argv in made if "--notest" not in argv]
    assert [env for env, _ in runs] == ["torch24", "torch215", "torch215", "torch24", "torch24", "torch215"]
    for env, argv in runs:
        assert argv[-3:] == ["--quick", "--device", "cpu"]  # the arguments after -- reach pytest
    progress = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 6 and progress[0].startswith("[1/6] round 1/3 torch24:")
    assert all("elapsed" in line and "left" in line for line in progress)
    saved = sorted((tmp_path / "results").glob("*/*.json"))
    records = [json.loads(p.read_text())["machine_info"]["blitzbench_matrix"] for p in saved]
    assert sorted((r["series"], r["round"]) for r in records) == sorted(
        (env, r) for r in (1, 2, 3) for env in ("torch24", "torch215"))
    assert len({r["matrix"] for r in records}) == 1
    assert {p.parent.name for p in saved} == {"torch24", "torch215"}
    assert "round 1/3" in done.stdout and "note: with 3 rounds" in done.stderr
    assert list((tmp_path / "results").glob("matrix-*.log"))


def test_instructions_count_in_one_round_and_the_progress_says_how_long(tmp_path):
    done = run_matrix(tmp_path, "torch24,torch215", "--instructions", "--", "--quick", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    runs = [(env, argv) for env, argv in calls(tmp_path) if "--notest" not in argv]
    assert [env for env, _ in runs] == ["torch24", "torch215"]  # one round by default
    assert all("--instructions" in argv and argv[-3:] == ["--quick", "--device", "cpu"] for _, argv in runs)
    progress = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 2 and all("(counting instructions 12s)" in line for line in progress)
    assert "instruction counts are compared from one run" in done.stderr


def test_a_failing_run_stops_the_matrix_naming_the_env(tmp_path):
    done = run_matrix(tmp_path, "torch24,torch215", "--rounds", "2", fake_env={"FAKE_TOX_FAIL": "torch215"})
    assert done.returncode == 1
    assert "torch215 failed in round 1 (exit 1)" in done.stderr and "a planted failure" in done.stderr
    assert [env for env, argv in calls(tmp_path) if "--notest" not in argv] == ["torch24", "torch215"]


def test_ctrl_c_keeps_finished_runs_and_saves_nothing_half_written(tmp_path):
    proc = run_matrix(tmp_path, "torch24,torch215", "--rounds", "2", fake_env={"FAKE_TOX_HANG": "torch215"},
                      wait=False)
    try:
        marker = tmp_path / "calls.jsonl.hang"
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the matrix never reached the second run"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted" in out and "1 finished runs are kept" in out
    saved = list((tmp_path / "results").rglob("*.json"))
    assert [p.parent.name for p in saved] == ["torch24"]
    assert all(json.loads(p.read_text())["benchmarks"] for p in saved)  # whole JSON, nothing cut short
    assert not list((tmp_path / "results").rglob("*.tmp"))


@pytest.mark.parametrize("args, says", [
    (["torch99", "--rounds", "2"], "unknown tox environment 'torch99'; accepted: comma-separated, from torch24"),
    (["torch24", "--rounds", "0"], "--rounds '0': accepted: a positive integer"),
    (["torch24", "--rounds", "two"], "--rounds 'two': accepted: a positive integer"),
    (["report"], "'report' runs no benchmarks"),
    (["torch24,torch24"], "listed twice"),
    (["torch24", "--verify", "--rounds", "2"], "--verify runs each environment's checks once; accepted: --verify alone"),
    (["torch24", "--verify", "--instructions"], "accepted: --verify alone, or --instructions without --verify"),
    (["torch99", "--verify"], "unknown tox environment 'torch99'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, says):
    done = run_matrix(tmp_path, *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert not calls(tmp_path)


def test_tox_missing_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "blitzbench", "matrix", "torch24", "--tox", str(tmp_path / "no-tox")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "no such command" in done.stderr
    # A python outside any venv's bin (so no tox beside it), with nothing on PATH.
    try:
        (tmp_path / "python").symlink_to(Path(sys.executable).resolve())
    except OSError as error:
        pytest.skip(f"cannot link a python outside the venv here: {error}")
    done = subprocess.run([str(tmp_path / "python"), "-m", "blitzbench", "matrix", "torch24"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PATH=str(tmp_path)))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "tox is not installed" in done.stderr


def test_end_to_end_through_pytest_and_the_report(tmp_path, capsys):
    """One run of the real suite (one case) in the matrix beside a synthetic one, then the report
    over what they saved (the paired statistics over many rounds are tested on synthetic runs, in
    test_series_report)."""
    done = run_matrix(tmp_path, "torch24,torch215", "--rounds", "1", fake_env={"FAKE_TOX_PYTEST": "torch215"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    saved = sorted((tmp_path / "results").glob("*/*.json"))
    assert [p.parent.name for p in saved] == ["torch215", "torch24"]
    assert list((tmp_path / "results" / "torch215").glob("*.md"))  # the suite's own table: a real run
    data = json.loads(saved[0].read_text())
    assert data["machine_info"]["blitzbench_matrix"]["series"] == "torch215"
    assert data["machine_info"]["blitzbench_matrix"]["round"] == 1
    assert data["benchmarks"][0]["extra_info"]["case_id"] == "chapter_net-cpu-bs4-forward"
    out_json = tmp_path / "report.json"
    assert report.main([str(tmp_path / "results"), "--baseline", "torch24", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "torch215: torch" in printed and "unclear (1 run)" in printed
    (record,) = [r for r in json.loads(out_json.read_text())["records"] if r["series"] == "torch215"]
    assert record["rounds"] == 1 and record["method"] == "single run" and record["ratio"] > 0
    # pytest-benchmark's own compare still reads a matrix run
    compare = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", str(saved[0])],
                             capture_output=True, text=True, timeout=120)
    assert compare.returncode == 0 and "chapter_net-cpu-bs4-forward" in compare.stdout, compare.stderr


# --verify: the verification suite once per environment, its JUnit XML kept, the release table.

def test_verify_runs_the_suite_once_per_env_keeps_its_xml_and_prints_the_table(tmp_path):
    done = run_matrix(tmp_path, "torch24,torch215", "--verify", "--", "-m", "not convergence")
    assert done.returncode == 0, done.stderr
    made = calls(tmp_path)
    assert [env for env, argv in made if "--notest" in argv] == ["torch24", "torch215"]
    runs = [(env, argv) for env, argv in made if "exec" in argv]
    assert [env for env, _ in runs] == ["torch24", "torch215"]  # once each, in the listed order
    for env, argv in runs:
        command = argv[argv.index("--") + 1:]
        # bench/'s checks only: the harness's own tests say nothing about a release
        assert command[:5] == ["python", "-m", "pytest", "bench", "--benchmark-disable"] and "tests" not in command
        assert command[-2:] == ["-m", "not convergence"]  # the arguments after -- reach pytest
    results = tmp_path / "results"
    assert (results / "torch24" / "verification.xml").exists() and (results / "torch215" / "verification.xml").exists()
    assert not list(results.rglob("*.tmp"))
    progress = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert progress[0].startswith("[1/2] torch24 (torch 2.4.1): 2 passed, 0 failed, 1 skipped, 0 failing by known bugs in ")
    assert progress[1].startswith("[2/2] torch215 (torch 2.15.0): 3 passed, 0 failed, 0 skipped, 0 failing by known bugs in ")
    assert "torch24 (2.4.1)" in done.stdout and "torch215 (2.15.0)" in done.stdout  # the table's columns
    saved = json.loads((results / "verification.json").read_text())
    assert [r["env"] for r in saved["releases"]] == ["torch24", "torch215"]
    (uneven,) = saved["skips_on_some_releases"]
    assert uneven == {"reason": "needs torch 2.5 or newer (this is {torch})", "cases_by_env": {"torch24": 1}}
    page = re.sub(r" +", " ", (results / "verification.md").read_text())
    assert "| bench/test_b.py | 1 / 0 / 1 / 0 | 2 / 0 / 0 / 0 |" in page and "None: every release passes" in page
    assert "every check passed" in done.stderr


def test_verify_runs_the_harness_tests_only_when_asked(tmp_path):
    done = run_matrix(tmp_path, "torch215", "--verify", "--harness-tests")
    assert done.returncode == 0, done.stderr
    (argv,) = [argv for env, argv in calls(tmp_path) if "exec" in argv]
    command = argv[argv.index("--") + 1:]
    assert command[3] == "bench" and "tests" in command and "--benchmark-disable" in command
    refused = run_matrix(tmp_path, "torch215", "--harness-tests")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "--verify --harness-tests" in refused.stderr


def test_verify_exits_1_naming_each_failing_case_and_goes_on_to_the_next_env(tmp_path):
    done = run_matrix(tmp_path, "torch215,torch24", "--verify", fake_env={"FAKE_TOX_FAIL": "torch215"})
    assert done.returncode == 1
    assert [env for env, argv in calls(tmp_path) if "exec" in argv] == ["torch215", "torch24"]
    assert "1 check failed:" in done.stderr
    assert "torch215 (torch 2.15.0): tests/test_a.py::test_planted" in done.stderr
    page = re.sub(r" +", " ", (tmp_path / "results" / "verification.md").read_text())
    assert "| torch215 | `tests/test_a.py::test_planted` | AssertionError: assert 3 == 1 | not explained |" in page
    assert "| tests/ (the harness's own tests) | 1 / 0 / 0 / 0 | 1 / **1** / 0 / 0 |" in page  # releases in release order: 2.4.1 first


def test_verify_stops_when_the_suite_does_not_run_and_keeps_the_previous_xml(tmp_path):
    earlier = tmp_path / "results" / "torch215" / "verification.xml"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("<testsuites/>")
    done = run_matrix(tmp_path, "torch24,torch215", "--verify", fake_env={"FAKE_TOX_CRASH": "torch215"})
    assert done.returncode == 1
    assert "the verification suite did not run in torch215 (exit 3, no JUnit XML written)" in done.stderr
    assert "INTERNALERROR (planted)" in done.stderr  # the log's end
    assert earlier.read_text() == "<testsuites/>"
    assert (tmp_path / "results" / "torch24" / "verification.xml").exists()


def test_verify_end_to_end_records_the_release_in_the_xml(tmp_path):
    """The real suite on two cases in one env (one passes, one is a CUDA case that skips here or
    runs on a GPU): the XML names the torch release it ran on and the suite's commit."""
    import torch

    selection = ["tests/test_flops.py::test_chapter_net_forward_is_549312_flops_per_sample",
                 "bench/test_devices.py::test_accelerator_agrees_with_cpu[chapter_net-cuda-bs1]"]
    done = run_matrix(tmp_path, "torch215", "--verify",
                      fake_env={"FAKE_TOX_PYTEST": "torch215", "FAKE_TOX_SELECT": ",".join(selection)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    saved = json.loads((tmp_path / "results" / "verification.json").read_text())
    (release,) = saved["releases"]
    assert release["torch"] == torch.__version__ and release["python"] == ".".join(map(str, sys.version_info[:3]))
    assert release["suite_commit"] and release["suite_commit"] != "?"
    assert release["passed"] + release["skipped"] == 2 and release["failed"] == 0
