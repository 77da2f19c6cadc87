"""Benchmark: the distributed training step (blitzbench.distributed) at 1 and 2 gloo processes, and on
GPUs at every available count with NCCL, with its scaling efficiency.

The ranks time themselves (torchrun workers cannot be timed from here without counting process
start-up): the timed steps run in blocks, each starting at a barrier and lasting as long as the
slowest rank. pytest-benchmark reads those block times through a clock that the test advances by
one block per round (:class:`RankClock`), so the saved statistics are per block of
``STEPS_PER_BLOCK`` steps. Scaling efficiency: samples/s over N times one process's samples/s with
the same per-rank batch and thread budget, timed in the same launch in blocks interleaved with
the ranks' blocks, as the median of the pairs' ratios.
"""

import os

import pytest
import torch

from blitzbench.distributed import launcher
from blitzbench.figures import iqr_over_median, per_second

pytestmark = pytest.mark.distributed
MODEL, PER_RANK_BATCH, BLOCKS, STEPS_PER_BLOCK = "chapter_net", 32, 7, 10


class RankClock:
    """A clock that stands still except when a round reports the next block the ranks timed."""

    def __init__(self):
        self.now, self.blocks = 0.0, []

    def __call__(self) -> float:
        return self.now

    def advance(self) -> None:
        self.now += self.blocks.pop(0)


CLOCK = RankClock()


def world_sizes():
    params = [pytest.param("gloo", n, id=f"gloo-{n}") for n in (1, 2)]
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    params += [pytest.param("nccl", n, id=f"nccl-{n}", marks=pytest.mark.cuda) for n in range(1, gpus + 1)]
    return params


@pytest.mark.benchmark(timer=CLOCK)
@pytest.mark.parametrize("backend, nproc", world_sizes())
def test_distributed_train_step(benchmark, backend, nproc):
    if backend == "gloo" and nproc > (os.cpu_count() or 1):
        pytest.skip(f"{nproc} gloo ranks need {nproc} CPU cores; this machine has {os.cpu_count()}")
    benchmark.group = f"distributed: {MODEL}"
    timed = not benchmark.disabled
    threads = launcher.threads_per_rank(backend, nproc)
    config = {"backend": backend, "model": MODEL, "steps": 3, "dtype": "float32", "threads": threads,
              "timeout": 300, "plant_failure": None, "verify": True,
              "blocks": BLOCKS if timed else 1, "timed_steps": (BLOCKS if timed else 1) * STEPS_PER_BLOCK}
    result = launcher.launch(nproc, dict(config, global_batch=PER_RANK_BATCH * nproc, yardstick=timed), timeout=600)
    # Check what was timed: the distributed step computes what one process computes.
    tol = launcher.TOLERANCE["float32"]
    assert result["grad_max_rel_err"] <= tol and result["param_max_rel_err"] <= tol, result
    assert result["rank_max_abs_diff"] == 0.0
    CLOCK.blocks = list(result["block_seconds"])
    benchmark.pedantic(CLOCK.advance, rounds=len(CLOCK.blocks), iterations=1)
    info = {"kind": "distributed", "model": MODEL, "backend": backend, "world_size": nproc,
            "device": "cuda" if backend == "nccl" else "cpu", "global_batch_size": PER_RANK_BATCH * nproc,
            "per_rank_batch_size": PER_RANK_BATCH, "threads_per_rank": threads, "steps_per_block": STEPS_PER_BLOCK,
            "grad_max_rel_err": result["grad_max_rel_err"], "param_max_rel_err": result["param_max_rel_err"],
            "torch_version": torch.__version__,
            "timer": "per-block max over ranks of time.perf_counter after a barrier (torchrun workers)"}
    if timed:
        # The one-process yardstick ran in the same launch, a block after each of the ranks'
        # (blitzbench.distributed.worker: efficiency = median over the pairs of blocks).
        stats = benchmark.stats.stats
        info.update(samples_per_s=per_second(PER_RANK_BATCH * nproc * STEPS_PER_BLOCK, stats.median),
                    noise_iqr_over_median=iqr_over_median(stats.iqr, stats.median),
                    single_process_samples_per_s=result["single_process_samples_per_s"],
                    single_block_seconds=result["single_block_seconds"],
                    scaling_efficiency=result["scaling_efficiency"])
    benchmark.extra_info.update(info)
