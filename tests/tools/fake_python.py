#!/usr/bin/env python3
"""A stand-in for a tox environment's Python (made by tests/tools/fake_tox.py, which sets FAKE_ENV):
``python -c ...`` answers blitzbench.matrix.not_ready's check (the torch tox.ini pins for the env,
this checkout's blitzbench), and ``python -m pytest ARGS`` does what fake_tox does for the same
pytest arguments: a synthetic JUnit XML where ARGS has ``--junitxml`` (the verification), else a
synthetic saved run (counted with ``--instructions``). FAKE_TOX_* settings as in fake_tox, and:

  FAKE_TOX_MEET    each verification and counting step writes FAKE_TOX_CALLS + ".KIND-ENV" and waits
                   (up to 60 s) for another environment's step of its kind to have started, then records
                   whether one had and its OMP_NUM_THREADS, in FAKE_TOX_CALLS + ".met-KIND-ENV"
  FAKE_TOX_TORCH   the torch version the ready check answers (default: the one tox.ini pins)
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
    if argv[:1] == ["-c"]:  # blitzbench.matrix.READY_CHECK: torch, torchvision, where blitzbench is
        pins = matrix.pins(env)
        print(os.environ.get("FAKE_TOX_TORCH", pins.get("torch", "2.14.1")))
        print(pins.get("torchvision", "0.29.1"))
        print(fake_tox.ROOT / "blitzbench" / "__init__.py")
        return 0
    assert argv[:2] == ["-m", "pytest"], argv
    args = argv[2:]
    with open(os.environ["FAKE_TOX_CALLS"], "a") as calls:
        calls.write(fake_tox.json.dumps([env, ["python", *argv]]) + "\n")
    verifying = any(a.startswith("--junitxml=") for a in args)
    if os.environ.get("FAKE_TOX_MEET") and (verifying or "--instructions" in args):
        kind = "verify" if verifying else "count"
        calls = Path(os.environ["FAKE_TOX_CALLS"])
        Path(f"{calls}.{kind}-{env}").write_text(env)
        others = [e for e in os.environ["FAKE_TOX_ENVS"].split(",") if e and e != env]

        def met():
            return any(Path(f"{calls}.{kind}-{other}").exists() for other in others)

        deadline = time.monotonic() + 60
        while not met() and time.monotonic() < deadline:
            time.sleep(0.05)
        Path(f"{calls}.met-{kind}-{env}").write_text(f"{met()} {os.environ.get('OMP_NUM_THREADS', 'unset')}")
    if verifying:
        return fake_tox.verify(env, ["python", "-m", "pytest", *args])
    return fake_tox.run(env, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
