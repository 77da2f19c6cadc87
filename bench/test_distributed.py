"""DistributedDataParallel through torchrun computes what one process computes (gloo on CPUs, NCCL
on GPUs), and a failing rank ends the whole run, named, within a bounded time.

Marked ``distributed``. Each case starts torchrun (standalone, loopback) via blitzbench.distributed.launcher.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from blitzbench.cli import distributed as command
from blitzbench.distributed import failures, launcher, worker
from blitzbench.messages import RunFailed

pytestmark = pytest.mark.distributed
ROOT = Path(__file__).resolve().parents[1]
FAILURE_BOUND_S = 60  # a planted failure must end the run well within this


def verify(nproc, backend="gloo", dtype="float64", steps=3, plant_failure=None):
    config = {"backend": backend, "model": "chapter_net", "steps": steps, "timed_steps": 2, "dtype": dtype,
              "threads": 1, "timeout": 120, "plant_failure": plant_failure, "global_batch": 8 * nproc,
              "verify": True}
    return launcher.launch(nproc, config, timeout=180)


def nccl_counts():
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n < 2:
        return [pytest.param(2, marks=pytest.mark.skip(
            reason=f"NCCL cases need two or more GPUs; this machine has {n}"), id="nccl-2")]
    return [pytest.param(k, marks=pytest.mark.cuda, id=f"nccl-{k}") for k in range(2, n + 1)]


@pytest.mark.parametrize("nproc", [1, 2], ids=["gloo-1", "gloo-2"])
def test_ddp_gradients_and_steps_equal_one_process_float64(nproc):
    result = verify(nproc)
    assert result["world_size"] == nproc
    assert result["grad_max_rel_err"] <= launcher.TOLERANCE["float64"]
    assert result["param_max_rel_err"] <= launcher.TOLERANCE["float64"]
    assert result["rank_max_abs_diff"] == 0.0


@pytest.mark.parametrize("nproc", nccl_counts())
def test_nccl_matches_one_process(nproc):
    result = verify(nproc, backend="nccl", dtype="float32")
    assert result["grad_max_rel_err"] <= launcher.TOLERANCE["float32"]
    assert result["param_max_rel_err"] <= launcher.TOLERANCE["float32"]
    assert result["rank_max_abs_diff"] == 0.0


def test_the_command_on_two_gloo_ranks_in_float32():
    # The command as a user runs it: verification, timing and scaling efficiency, JSON last.
    out = subprocess.run([sys.executable, "-m", "blitzbench", "distributed", "--nproc", "2", "--model", "chapter_net",
                          "--steps", "3", "--timed-steps", "10", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("world_size", "backend", "model", "global_batch_size", "samples_per_s", "scaling_efficiency",
                "grad_max_rel_err", "param_max_rel_err", "torch_version"):
        assert key in result, key
    assert result["within_tolerance"] and result["grad_max_rel_err"] <= launcher.TOLERANCE["float32"]
    assert result["samples_per_s"] > 0 and 0 < result["scaling_efficiency"] < 2
    # rates: samples per block / the median block; efficiency: the median of the interleaved pairs' ratios
    per_block = result["global_batch_size"] * result["steps_per_block"]
    assert result["samples_per_s"] == pytest.approx(per_block / statistics.median(result["block_seconds"]))
    assert len(result["single_block_seconds"]) == len(result["block_seconds"]) == launcher.BLOCKS
    assert result["single_process_samples_per_s"] == pytest.approx(
        result["per_rank_batch_size"] * result["steps_per_block"] / statistics.median(result["single_block_seconds"]))
    assert result["scaling_efficiency"] == pytest.approx(statistics.median(
        s / t for t, s in zip(result["block_seconds"], result["single_block_seconds"])))


def test_efficiency_is_the_median_of_the_pairs_ratios():
    # N ranks' block i against one process's block i: efficiency s_i / t_i. A drift that slows the
    # third pair on both sides leaves its ratio, and the median, alone; a ratio of medians of the
    # two sides taken apart would not pair them.
    ranks = [2.0, 2.0, 4.0, 2.0, 2.0]
    alone = [1.0, 1.2, 2.0, 1.1, 1.0]
    assert worker.interleaved_efficiency(ranks, alone) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="pairs"):
        worker.interleaved_efficiency([1.0], [1.0, 2.0])


def test_rates_come_from_the_median_block_not_the_mean():
    # one slow block (a shared machine's hiccup) moves a mean-based rate by 4x, the median not at all
    assert worker.rate_from_blocks([1.0, 1.0, 10.0], samples_per_block=64) == 64.0


@pytest.mark.parametrize("how, rank", [("raise", 1), ("exit", 0)])
def test_a_failing_rank_ends_the_run_and_is_named(how, rank):
    start = time.monotonic()
    with pytest.raises(RunFailed, match=f"rank {rank} "):
        verify(2, dtype="float32", steps=4, plant_failure={"rank": rank, "step": 2, "how": how})
    assert time.monotonic() - start < FAILURE_BOUND_S


@pytest.mark.parametrize("args, says", [
    (["--nproc", "0"], "1 or more"), (["--nproc", "999"], "accepted: 1 to"),
    (["--batch-size", "7", "--nproc", "2"], "multiple of --nproc"),
])
def test_bad_input_is_one_line(args, says, capsys):
    with pytest.raises(SystemExit) as exit_info:
        command.parse_args(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here, so nccl is valid")
def test_nccl_without_cuda_is_one_line(capsys):
    with pytest.raises(SystemExit):
        command.parse_args(["--backend", "nccl"])
    assert "needs CUDA" in capsys.readouterr().err


def test_the_failure_named_is_the_earliest_caught_not_the_earliest_file(tmp_path):
    # rank 1 raised first; rank 0's error followed from it. The kernel's coarse file clock can
    # stamp both files alike, so the order comes from the times written inside them: here the
    # mtimes even say the opposite, and rank 1 must still be named.
    (tmp_path / "rank0.error").write_text("2000\nDistBackendError: Connection closed by peer")
    (tmp_path / "rank1.error").write_text("1000\nRuntimeError: planted failure on rank 1 at step 2")
    os.utime(tmp_path / "rank0.error", ns=(5, 5))
    os.utime(tmp_path / "rank1.error", ns=(6, 6))
    output = ("rank      : 0 (local_rank: 0)\n  exitcode  : 1\n"
              "rank      : 1 (local_rank: 1)\n  exitcode  : 1\n")
    message = failures.failure_message(output, tmp_path, 1)
    assert message.startswith("rank 1 failed: RuntimeError: planted failure on rank 1 at step 2;"), message


def test_a_rank_that_torchrun_stopped_is_not_named_as_the_cause(tmp_path):
    # rank 1 raised; torchrun then stopped rank 0 with SIGTERM (exit code -15) before rank 0's own
    # error (connection closed by peer) was written: rank 1 is the cause, rank 0 followed it.
    (tmp_path / "rank1.error").write_text("1000\nRuntimeError: planted failure on rank 1 at step 2")
    output = ("rank      : 0 (local_rank: 0)\n  exitcode  : -15\n"
              "rank      : 1 (local_rank: 1)\n  exitcode  : 1\n")
    message = failures.failure_message(output, tmp_path, 1)
    assert message.startswith("rank 1 failed: RuntimeError: planted failure on rank 1 at step 2;"), message
    # a rank that exited by itself, without an error file, is still the cause
    output = output.replace("exitcode  : -15", "exitcode  : 3")
    assert failures.failure_message(output, tmp_path, 1).startswith("rank 0 exited with code 3 without raising")
