"""Starting a distributed run on this machine and collecting its result: torchrun as it is
(standalone rendezvous on loopback, no restarts), N ranks of blitzbench.distributed.worker, and
rank 0's result read back; a run that fails raises RunFailed naming the rank whose failure ended
it (blitzbench.distributed.failures).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from blitzbench import ROOT
from blitzbench.distributed import failures
from blitzbench.messages import RunFailed

BACKENDS = ("gloo", "nccl")
BLOCKS = 5  # the timed steps are split into blocks; the rate uses the median block
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}  # max error relative to max(1, the largest magnitude)


def torchrun_command(nproc: int, config_file: Path) -> list[str]:
    """torchrun on this machine: ``nproc`` ranks of the worker, each reading ``config_file``."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
            "--nproc-per-node", str(nproc), "--max-restarts", "0", "--monitor-interval", "0.5",
            "-m", "blitzbench.distributed.worker", str(config_file)]


def threads_per_rank(backend: str, nproc: int) -> int:
    """gloo ranks share the CPU cores evenly; an nccl rank drives its GPU from one thread."""
    return max(1, (os.cpu_count() or 1) // nproc) if backend == "gloo" else 1


def launch(nproc: int, config: dict, timeout: float) -> dict:
    """Run one torchrun job; its rank-0 result, or RunFailed naming the rank that failed."""
    with tempfile.TemporaryDirectory(prefix="blitz-ddp-") as tmp:
        tmp = Path(tmp)
        config = dict(config, error_dir=str(tmp), result_file=str(tmp / "result.json"))
        (tmp / "config.json").write_text(json.dumps(config))
        env = dict(os.environ)
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one machine: rendezvous and traffic on loopback
        env.setdefault("OMP_NUM_THREADS", str(config["threads"]))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                          env.get("PYTHONPATH")]))
        proc = subprocess.Popen(torchrun_command(nproc, tmp / "config.json"), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RunFailed(f"the run did not finish within {timeout:g} s and was stopped") from None
        if proc.returncode != 0:
            raise RunFailed(failures.failure_message(output, tmp, proc.returncode))
        return json.loads((tmp / "result.json").read_text())


def verify_and_time(nproc: int, model: str, global_batch: int, backend: str, steps: int, timed_steps: int,
                    dtype: str, timeout: float, plant_failure: dict | None = None) -> dict:
    """One run of ``nproc`` ranks: verified against one process over ``steps`` steps, then
    ``timed_steps`` steps timed in blocks, each beside a block of one process alone (the
    yardstick for scaling: the same per-rank batch and thread budget, timed in the same run).
    Rank 0's result, with the dtype's tolerance and whether every error is within it."""
    base = {"backend": backend, "model": model, "steps": steps, "timed_steps": timed_steps, "dtype": dtype,
            "threads": threads_per_rank(backend, nproc), "blocks": min(BLOCKS, timed_steps), "timeout": timeout,
            "plant_failure": plant_failure}
    result = launch(nproc, dict(base, global_batch=global_batch, verify=True, yardstick=True), timeout)
    tol = TOLERANCE[dtype]
    result["tolerance"] = tol
    result["within_tolerance"] = (result["grad_max_rel_err"] <= tol and result["param_max_rel_err"] <= tol
                                  and result["rank_max_abs_diff"] == 0)
    return result
