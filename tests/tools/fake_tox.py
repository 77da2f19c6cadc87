#!/usr/bin/env python3
"""A stand-in for tox in tests/test_matrix.py and tests/test_compare.py: answers ``tox -l``,
``tox config -e ENVS -k env_python``, ``tox -e ENV --notest`` and ``tox -e ENV --skip-pkg-install --
ARGS`` the way blitzbench.matrix calls them, without installing any torch release. ``--notest``
makes an environment's "Python": FAKE_TOX_CALLS' folder/envs/ENV/bin/python, a script that runs
tests/tools/fake_python.py as ENV (the environment's runs, called directly by blitzbench compare).
Set by the test through the environment:

  FAKE_TOX_ENVS    comma-separated environments ``-l`` lists (``report`` is added)
  FAKE_TOX_CALLS   a file each call's env and arguments are appended to
  FAKE_TOX_PYTEST  an env whose runs are the real suite on one case, as the tox environments
                   run it; the others write a small synthetic saved run from ARGS
  FAKE_TOX_FAIL    an env whose runs fail (exit 1)
  FAKE_TOX_HANG    an env whose runs write their process id to FAKE_TOX_CALLS + ".hang" and then wait
                   to be interrupted
  FAKE_TOX_CRASH   an env whose verification runs end with pytest's internal-error status and no XML
  FAKE_TOX_MORE    an env whose counted runs count 10% more instructions
  FAKE_TOX_FAIL_CHECK  an env whose verification fails a check (its benchmark runs succeed)

``tox exec -e ENV --skip-pkg-install -- python -m pytest ARGS`` (blitzbench.matrix --verify) writes a
small synthetic JUnit XML at ARGS' --junitxml (a failing check in FAKE_TOX_FAIL, exit 1), or, in
FAKE_TOX_PYTEST, runs the real suite on the node ids in FAKE_TOX_SELECT (comma-separated) instead
of the whole suite, with the other arguments as given.
"""

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def option(args, name):
    return args[args.index(name) + 1] if name in args else None


def main(argv):
    envs = [e for e in os.environ.get("FAKE_TOX_ENVS", "").split(",") if e]
    if argv == ["-l"]:
        print("\n".join([*envs, "report"]))
        return 0
    env = option(argv, "-e")
    if argv[:1] == ["config"]:
        for name in env.split(","):
            print(f"[testenv:{name}]\nenv_python = {python_of(name)}\n")
        return 0
    with open(os.environ["FAKE_TOX_CALLS"], "a") as calls:
        calls.write(json.dumps([env, argv]) + "\n")
    if "--notest" in argv:
        make(env)
        return 0
    args = argv[argv.index("--") + 1:] if "--" in argv else []
    if "exec" in argv:
        return verify(env, args)
    return run(env, args)


def python_of(env: str) -> Path:
    return Path(os.environ["FAKE_TOX_CALLS"]).parent / "envs" / env / "bin" / "python"


def make(env: str) -> None:
    python = python_of(env)
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text(f"#!/bin/sh\nFAKE_ENV={env} exec {sys.executable} {Path(__file__).parent / 'fake_python.py'} "
                      '"$@"\n')
    python.chmod(0o755)


def run(env, args):
    """A benchmark run of ``env`` with pytest ARGS."""
    if env == os.environ.get("FAKE_TOX_FAIL"):
        print(f"{env}: a planted failure")
        return 1
    if env == os.environ.get("FAKE_TOX_HANG"):
        Path(os.environ["FAKE_TOX_CALLS"] + ".hang").write_text(str(os.getpid()))
        time.sleep(60)
        return 0
    if env == os.environ.get("FAKE_TOX_PYTEST"):
        return subprocess.call([sys.executable, "-m", "pytest", "bench/test_throughput.py", "--benchmark-only", "-q",
                                "-p", "no:cacheprovider", "--quick", "--models=chapter_net", "--phases=forward",
                                "--batch-sizes=4", "--device=cpu", "--benchmark-min-time=0.002", *args], cwd=ROOT)
    folder = Path(option(args, "--results-dir"))
    folder.mkdir(parents=True, exist_ok=True)
    record = {"series": option(args, "--series"), "round": int(option(args, "--round")),
              "matrix": option(args, "--matrix-id")}
    now = datetime.now()
    median = 1e-3
    run = {"machine_info": {"torch_version": "2.14.1", "node": "vm", "cpu_model": "x", "blitzbench_matrix": record},
           "datetime": now.isoformat(), "version": "5.3.1",
           "benchmarks": [{"name": "test_throughput[chapter_net-cpu-bs4-forward]",
                           "stats": {"median": median, "q1": median, "q3": median, "iqr": 0.0},
                           "extra_info": {"model": "chapter_net", "phase": "forward", "device": "cpu",
                                          "batch_size": 4}}]}
    if "--instructions" in args:  # as blitzbench.plugin.instructions records a counted run
        run["machine_info"]["instructions"] = {"valgrind": "valgrind-3.19.0", "counting_seconds": 12.0,
                                               "counting_isa": option(args, "--counting-isa") or "avx"}
        more = 1.1 if env == os.environ.get("FAKE_TOX_MORE") else 1.0
        run["benchmarks"][0]["extra_info"].update(instructions_per_call=2.8e6 * more, instructions_spread=0.001)
    (folder / f"{now:%Y%m%d-%H%M%S-%f}_torch-2.14.1_cpu.json").write_text(json.dumps(run))
    return 0


RELEASES = {"torch24": "2.4.1", "torch215": "2.15.0"}


def verify(env, command):
    """The verification suite as blitzbench.matrix --verify runs it: ``python -m pytest SUITE ... --junitxml=PATH``."""
    junit = next(a.split("=", 1)[1] for a in command if a.startswith("--junitxml="))
    if env == os.environ.get("FAKE_TOX_CRASH"):
        print(f"{env}: INTERNALERROR (planted)")
        return 3
    if env == os.environ.get("FAKE_TOX_PYTEST"):
        options = [a for a in command[3:] if a not in ("bench", "tests")]  # command: python -m pytest ...
        selection = os.environ["FAKE_TOX_SELECT"].split(",")
        return subprocess.call([sys.executable, "-m", "pytest", *selection, *options], cwd=ROOT)
    torch = RELEASES.get(env, "2.14.1")
    failing = env in (os.environ.get("FAKE_TOX_FAIL"), os.environ.get("FAKE_TOX_FAIL_CHECK"))
    cases = ['<testcase classname="tests.test_a" name="test_ok" time="0.1"/>',
             '<testcase classname="bench.test_b.TestB" name="test_shape[bs4]" time="0.1"/>']
    if env == "torch24":
        cases.append('<testcase classname="bench.test_b.TestB" name="test_new[bs4]" time="0">'
                     '<skipped type="pytest.skip" message="needs torch 2.5 or newer (this is 2.4.1)"/></testcase>')
    else:
        cases.append('<testcase classname="bench.test_b.TestB" name="test_new[bs4]" time="0.1"/>')
    if failing:
        cases.append('<testcase classname="tests.test_a" name="test_planted" time="0.1">'
                     '<failure message="AssertionError: assert 3 == 1">long text</failure></testcase>')
    xml = ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
           f'timestamp="2026-12-01T10:00:00" time="61.0"><properties><property name="torch" value="{torch}"/>'
           '<property name="suite_commit" value="abc1234"/></properties>' + "".join(cases)
           + "</testsuite></testsuites>")
    Path(junit).write_text(xml)
    print(f"{env}: {len(cases)} cases")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
