#!/usr/bin/env python3
"""A stand-in for a tox environment's Python (made by tests/tools/fake_tox.py, which sets FAKE_ENV):
``python -c ...`` answers blitzbench.matrix.not_ready's check (the torch tox.ini pins for the env,
this checkout's blitzbench), and ``python -m pytest ARGS`` does what fake_tox does for the same
pytest arguments: a synthetic JUnit XML where ARGS has ``--junitxml`` (the verification), else a
synthetic saved run (counted with ``--instructions``). FAKE_TOX_* settings as in fake_tox, and:

  FAKE_TOX_MEET    verification steps write FAKE_TOX_CALLS + ".verify-ENV" and wait (up to 60 s) for
                   every env's, then record whether they met, in FAKE_TOX_CALLS + ".met-ENV"
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import fake_tox  # noqa: E402

from blitzbench import matrix  # noqa: E402


def main(argv):
    env = os.environ["FAKE_ENV"]
    if argv[:1] == ["-c"]:
        print(matrix.pinned_torch(env) or "2.14.1")
        print(fake_tox.ROOT / "blitzbench" / "__init__.py")
        return 0
    assert argv[:2] == ["-m", "pytest"], argv
    args = argv[2:]
    with open(os.environ["FAKE_TOX_CALLS"], "a") as calls:
        calls.write(fake_tox.json.dumps([env, ["python", *argv]]) + "\n")
    if any(a.startswith("--junitxml=") for a in args):
        if os.environ.get("FAKE_TOX_MEET"):
            calls = os.environ["FAKE_TOX_CALLS"]
            Path(f"{calls}.verify-{env}").write_text(env)
            others = [e for e in os.environ["FAKE_TOX_ENVS"].split(",") if e]
            deadline = time.monotonic() + 60
            while not all(Path(f"{calls}.verify-{e}").exists() for e in others) and time.monotonic() < deadline:
                time.sleep(0.05)
            Path(f"{calls}.met-{env}").write_text(str(all(Path(f"{calls}.verify-{e}").exists() for e in others)))
        return fake_tox.verify(env, ["python", "-m", "pytest", *args])
    return fake_tox.run(env, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
