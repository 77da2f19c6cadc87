"""blitzbench compare: per environment the verification and one counted run, jobs at once, then
optional timed rounds one at a time; one summary and the report files.

tox is replaced by tests/tools/fake_tox.py and each environment's Python by tests/tools/fake_python.py
(a real environment is a multi-GB torch install), which write synthetic JUnit XML and saved runs as
the real steps do; what is checked is the command's own work: the steps it runs and with what, how
many at once, what it saves and prints, and how it fails.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blitzbench import compare, matrix
from blitzbench.analysis import verification
from blitzbench.measure import callgrind

ROOT = Path(__file__).resolve().parents[1]
FAKE_TOX = ROOT / "tests" / "tools" / "fake_tox.py"
# The command refuses to start where instructions cannot be counted, fakes or not.
needs_valgrind = pytest.mark.skipif(callgrind.missing_reason() is not None,
                                    reason=f"compare counts instructions: {callgrind.missing_reason()}")


def run_compare(tmp_path, *args, envs="torch214,torch215", fake_env=None, wait=True):
    """``blitzbench compare`` with ``args`` (the environments first: ``envs`` when the first
    argument is an option), tox.ini's environments being ``envs``."""
    if not args or args[0].startswith("-"):
        args = (envs, *args)
    env = dict(os.environ, FAKE_TOX_ENVS=envs, FAKE_TOX_CALLS=str(tmp_path / "calls.jsonl"), **(fake_env or {}))
    command = [sys.executable, "-m", "blitzbench", "compare", "--tox", f"{sys.executable} {FAKE_TOX}",
               "--out", str(tmp_path / "out"), *args]
    if not wait:  # SIGINT at its default in the child (a background shell starts it ignored)
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def calls(tmp_path):
    path = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_plan_verifies_and_counts_each_environment_then_interleaves_the_rounds(tmp_path):
    pythons = {"torch214": Path("/e/a/python"), "torch215": Path("/e/b/python")}
    parallel, timed = compare.plan(pythons, tmp_path, rounds=2, jobs=2, isa="native", pytest_args=[],
                                   harness_tests=False, run_id="id")
    # The verifications first (the longest steps), then the countings.
    assert [s.name for s in parallel] == ["verify torch214", "verify torch215", "count torch214", "count torch215"]
    count = next(s for s in parallel if s.name == "count torch214")
    assert count.command[:3] == ["/e/a/python", "-m", "pytest"] and count.command[3:4] == compare.COUNTED_FILES
    assert "--instructions" in count.command and count.command[count.command.index("--counting-isa") + 1] == "native"
    assert count.command[-3:] == compare.DEFAULT_SELECTION
    # The cores are shared between the steps that run at once: each its share of threads, and a
    # counting step as many valgrind processes.
    share = max(1, (os.cpu_count() or 1) // 2)
    assert count.command[count.command.index("--instructions-jobs") + 1] == str(share)
    assert all(s.threads == share for s in parallel)
    verify = next(s for s in parallel if s.name == "verify torch215")
    assert verify.command[3:5] == verification.SUITE and "tests" not in verify.command
    assert [(s.env, s.round) for s in timed] == [("torch214", 1), ("torch215", 1), ("torch215", 2), ("torch214", 2)]
    assert all("--instructions" not in s.command and "--benchmark-only" in s.command for s in timed)
    assert all(s.threads is None for s in timed)  # a timed round runs alone, with torch's own threads
    _, timed = compare.plan(pythons, tmp_path, 0, 1, "avx", ["--quick", "--models", "lenet"], True, "id")
    assert timed == []


def test_the_estimate_of_time_left_learns_from_finished_steps_and_shares_the_jobs():
    verify, count, round_ = (compare.DEFAULT_SECONDS[k] for k in ("verify", "count", "round"))
    estimates = compare.Estimates(jobs=2)
    waiting = [compare.Step("verify", "a"), compare.Step("count", "b"), compare.Step("verify", "b"),
               compare.Step("count", "a")]
    assert estimates.left(waiting, [], []) == (2 * verify + 2 * count) / 2  # two slots share the work
    # Never less than the longest step left, however many slots.
    assert compare.Estimates(jobs=16).left(waiting, [], []) == verify
    # A running step counts what is left of it, and at least a tenth of its estimate (one near or
    # past its end still has to finish).
    assert estimates.left([], [(waiting[0], verify / 2), (waiting[1], 2 * count)], []) == \
        max((verify / 2 + 0.1 * count) / 2, verify / 2)
    assert estimates.left([], [(waiting[0], verify - 1)], []) == 0.1 * verify
    estimates.record(compare.Step("verify", "a", seconds=100.0))
    assert estimates.left(waiting[2:3], [], [compare.Step("round", "a", 1)]) == 100.0 + round_


@needs_valgrind
def test_one_command_answers_both_questions_and_saves_every_file(tmp_path):
    done = run_compare(tmp_path, "--rounds", "2", "--jobs", "2", envs="torch24,torch215",
                       fake_env={"FAKE_TOX_MORE": "torch215"})
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    # Environments made once (none existed), then run through their own Python, not re-synced.
    assert [env for env, argv in calls(tmp_path) if "--notest" in argv] == ["torch24", "torch215"]
    runs = [(env, argv) for env, argv in calls(tmp_path) if argv[:1] == ["python"]]
    assert sorted(env for env, argv in runs if any(a.startswith("--junitxml=") for a in argv)) == ["torch215", "torch24"]
    assert sorted(env for env, argv in runs if "--instructions" in argv) == ["torch215", "torch24"]
    timed = [env for env, argv in runs if "--benchmark-only" in argv and "--instructions" not in argv]
    assert timed == ["torch24", "torch215", "torch215", "torch24"]  # after the counting, interleaved
    progress = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 8 and all("elapsed" in line and "left" in line for line in progress)
    assert progress[-1].startswith("[8/8] round torch24 round 2: timed")
    # The summary: checks by release, the checks whose outcome differs (fake_tox skips one on
    # torch24), the counts with their verdicts.
    assert "torch24 (torch 2.4.1): 2 passed, 0 failed, 1 skipped, 0 failing by known bugs" in done.stdout
    assert "checks whose outcome differs between the releases: 1, in 1 group" in done.stdout
    assert "bench/test_b.py::TestB::test_new[bs4]" in done.stdout
    [row] = [line for line in done.stdout.splitlines() if line.startswith("chapter_net-cpu-bs4-forward")
             and "1.1000" in line]
    assert row.split()[-1] == "more"
    for name in ("summary.md", "report.md", "report.json", "report.html", "verification.md", "verification.json",
                 "steps.json"):
        assert (out / name).is_file(), name
    assert (out / "torch24" / verification.RESULT_FILE).is_file()
    steps = json.loads((out / "steps.json").read_text())
    assert len(steps["steps"]) == 8 and steps["jobs"] == 2 and steps["counting_isa"] == "avx"
    assert all(s["seconds"] is not None and s["seconds"] >= 0 for s in steps["steps"])
    assert len(list((out / "logs").glob("*.log"))) == 9  # 8 steps and the environments'


@needs_valgrind
def test_verification_and_counting_of_different_environments_run_at_once(tmp_path):
    done = run_compare(tmp_path, "--jobs", "2", fake_env={"FAKE_TOX_MEET": "1"})
    assert done.returncode == 0, done.stderr
    calls_file = tmp_path / "calls.jsonl"
    # Each verification and each counting saw the other environment's step of its kind start before
    # it ended; each ran with its share of the cores as threads.
    for kind in ("verify", "count"):
        for env in ("torch214", "torch215"):
            met, threads = Path(f"{calls_file}.met-{kind}-{env}").read_text().split()
            assert met == "True" and threads == str(max(1, (os.cpu_count() or 1) // 2)), (kind, env)


def _compare_again(tmp_path, out: str, **fake_env):
    """compare once more in the same tmp_path (the environments fake_tox made there), into ``out``."""
    (tmp_path / "calls.jsonl").unlink(missing_ok=True)
    env = dict(os.environ, FAKE_TOX_ENVS="torch214,torch215", FAKE_TOX_CALLS=str(tmp_path / "calls.jsonl"), **fake_env)
    return subprocess.run([sys.executable, "-m", "blitzbench", "compare", "--tox", f"{sys.executable} {FAKE_TOX}",
                           "--out", str(tmp_path / out), "torch214,torch215"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


@needs_valgrind
def test_ready_environments_are_used_as_they_are_and_others_made(tmp_path):
    first = run_compare(tmp_path)
    assert first.returncode == 0, first.stderr
    done = _compare_again(tmp_path, "again")
    assert done.returncode == 0, done.stderr
    assert not [argv for _, argv in calls(tmp_path) if "--notest" in argv]
    assert "ready: torch214 (as it is" in done.stdout
    # An environment whose torch is not the one tox.ini pins is made again; when tox's making
    # leaves it so, the command stops there, saying why.
    done = _compare_again(tmp_path, "third", FAKE_TOX_TORCH="2.13.0")
    assert [env for env, argv in calls(tmp_path) if "--notest" in argv] == ["torch214"]
    assert done.returncode == 1
    assert ("tox made environment torch214, and it still cannot run the suite: it has torch 2.13.0, tox.ini pins "
            "2.14.1") in done.stderr
    assert matrix.not_ready("torch214", tmp_path / "envs" / "none" / "bin" / "python") == "not created"


@needs_valgrind
def test_a_failing_check_is_named_the_summary_still_made_and_exit_1(tmp_path):
    done = run_compare(tmp_path, fake_env={"FAKE_TOX_FAIL_CHECK": "torch215"})
    assert done.returncode == 1
    assert "1 check failed:" in done.stderr and "torch215 (torch 2.15.0): tests/test_a.py::test_planted" in done.stderr
    assert "FAILED: 1 check" in done.stdout and "AssertionError: assert 3 == 1" in done.stdout
    assert (tmp_path / "out" / "summary.md").is_file()


@needs_valgrind
def test_a_failing_benchmark_run_stops_the_command_naming_the_step(tmp_path):
    done = run_compare(tmp_path, fake_env={"FAKE_TOX_FAIL": "torch215"})
    assert done.returncode == 1
    assert "count torch215 failed (exit 1)" in done.stderr and "a planted failure" in done.stderr
    assert not (tmp_path / "out" / "summary.md").exists()


@needs_valgrind
def test_a_step_that_does_not_run_stops_the_command_naming_it_and_its_log(tmp_path):
    done = run_compare(tmp_path, fake_env={"FAKE_TOX_CRASH": "torch215"})
    assert done.returncode == 1
    assert "verify torch215 failed (exit 3, no JUnit XML written)" in done.stderr and "INTERNALERROR (planted)" in done.stderr
    assert not (tmp_path / "out" / "torch215" / verification.RESULT_FILE).exists()


@needs_valgrind
def test_ctrl_c_stops_the_steps_and_keeps_what_finished_steps_saved(tmp_path):
    proc = run_compare(tmp_path, "--jobs", "1", "--rounds", "1", fake_env={"FAKE_TOX_HANG": "torch215"}, wait=False)
    try:
        marker = tmp_path / "calls.jsonl.hang"
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "compare never reached the hanging step"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    with pytest.raises(ProcessLookupError):  # the hanging step's process was stopped
        os.kill(int(marker.read_text()), 0)
    steps = {s["kind"] + " " + s["env"]: s for s in json.loads((tmp_path / "out" / compare.STEPS_FILE).read_text())["steps"]}
    # One job: torch214's verification finished, then torch215's counting hung and was stopped.
    assert steps["verify torch214"]["seconds"] is not None and steps["count torch215"]["seconds"] is None
    kept = tmp_path / "out" / "torch214" / verification.RESULT_FILE
    assert verification.read_run(kept, "torch214").counts()["passed"] > 0  # whole, as the step saved it
    assert all(json.loads(p.read_text()) for p in (tmp_path / "out").rglob("*.json"))  # nothing half-written
    assert not list((tmp_path / "out").rglob("*.partial"))


@pytest.mark.parametrize("args, says", [
    (["torch214"], "one environment has nothing to be compared with"),
    (["torch214,torch99"], "unknown tox environment 'torch99'"),
    (["torch214,torch214"], "an environment is listed twice"),
    (["torch214,torch215", "--rounds", "-1"], "--rounds '-1': accepted:"),
    (["torch214,torch215", "--jobs", "0"], "--jobs '0': accepted: a positive integer"),
    (["torch214,torch215", "--counting-isa", "sse"], "--counting-isa 'sse': accepted: avx, native"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, says):
    done = run_compare(tmp_path, *args)
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not calls(tmp_path)


def test_an_out_folder_that_holds_files_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "summary.md").write_text("kept")
    done = run_compare(tmp_path, "torch214,torch215")
    assert done.returncode == 2 and "holds files already" in done.stderr
    assert (tmp_path / "out" / "summary.md").read_text() == "kept"
