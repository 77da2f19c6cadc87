#!/usr/bin/env python3
"""A stand-in for tox in tests/test_matrix.py: answers ``tox -l``, ``tox -e ENV --notest`` and
``tox -e ENV --skip-pkg-install -- ARGS`` the way bench.matrix calls them, without installing any
torch release. Set by the test through the environment:

  FAKE_TOX_ENVS    comma-separated environments ``-l`` lists (``report`` is added)
  FAKE_TOX_CALLS   a file each call's env and arguments are appended to
  FAKE_TOX_PYTEST  an env whose runs are the real suite on one case, as the tox environments
                   run it; the others write a small synthetic saved run from ARGS
  FAKE_TOX_FAIL    an env whose runs fail (exit 1)
  FAKE_TOX_HANG    an env whose runs write FAKE_TOX_CALLS + ".hang" and then wait to be interrupted
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
    with open(os.environ["FAKE_TOX_CALLS"], "a") as calls:
        calls.write(json.dumps([env, argv]) + "\n")
    if "--notest" in argv:
        return 0
    args = argv[argv.index("--") + 1:] if "--" in argv else []
    if env == os.environ.get("FAKE_TOX_FAIL"):
        print(f"{env}: a planted failure")
        return 1
    if env == os.environ.get("FAKE_TOX_HANG"):
        Path(os.environ["FAKE_TOX_CALLS"] + ".hang").write_text(env)
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
    if "--instructions" in args:  # as bench.instructions_plugin records a counted run
        run["machine_info"]["instructions"] = {"valgrind": "valgrind-3.19.0", "counting_seconds": 12.0}
        run["benchmarks"][0]["extra_info"].update(instructions_per_call=2.8e6, instructions_spread=0.001)
    (folder / f"{now:%Y%m%d-%H%M%S-%f}_torch-2.14.1_cpu.json").write_text(json.dumps(run))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
