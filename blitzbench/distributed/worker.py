"""What one rank runs, as torchrun starts it: ``python -m blitzbench.distributed.worker CONFIG.json``
(blitzbench.distributed.launcher writes CONFIG.json and builds the torchrun command).

Each of the N ranks takes its shard of every global batch (GLOBAL / N samples); DDP averages the
gradients across ranks; SGD with momentum steps. With ``verify``, rank 0 checks the run against
one plain process (same seed, same global batches): the gradients after one backward and the
parameters after ``steps`` steps, each as max |difference| / max(1, the largest magnitude), and
the parameters between ranks. Then ``timed_steps`` training steps are timed on all ranks in
``blocks`` blocks (each block's time is the slowest rank's); with ``yardstick``, rank 0 times a
block of one process alone (a plain model, the same per-rank batch and thread budget) beside each,
in alternating order, while the other ranks wait at a barrier. Rank 0 writes the result as JSON to
``result_file``; a rank that fails leaves its error in ``error_dir`` (blitzbench.distributed.failures).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from blitzbench.distributed import failures
from blitzbench.figures import per_second

WARMUP_STEPS = 3


def _flat(tensors):
    import torch

    return torch.cat([t.detach().reshape(-1) for t in tensors])


def rate_from_blocks(block_seconds: list[float], samples_per_block: int) -> float:
    """Samples per second from timed blocks: samples per block / the median block time (the
    statistic the benchmark's table uses for every case)."""
    return per_second(samples_per_block, statistics.median(block_seconds))


def interleaved_efficiency(block_seconds: list[float], single_seconds: list[float]) -> float:
    """Scaling efficiency from interleaved pairs of blocks: N ranks' block i (N x B samples) and
    one process's block i (B samples, the same steps) give samples/s ratios of
    (N B / t_i) / (N x B / s_i) = s_i / t_i; the median of those ratios, so that drift between
    one pair and the next cancels."""
    if len(block_seconds) != len(single_seconds) or not block_seconds:
        raise ValueError(f"need pairs of blocks, got {len(block_seconds)} and {len(single_seconds)}")
    return statistics.median(s / t for t, s in zip(block_seconds, single_seconds))


def _one_process_block(model_name, device, dtype, x, y, steps, cuda):
    """The yardstick: a plain model (no DDP) with one rank's batch and threads, warmed up; returns
    a callable that times ``steps`` training steps of it alone and returns the seconds."""
    import torch

    from blitzbench.measure.batches import seeded_model
    from reference_models import training_step as training

    net = seeded_model(model_name, device, dtype, seed=0)
    optimizer = torch.optim.SGD(net.parameters(), lr=training.CHECK_LR, momentum=training.MOMENTUM)

    def block() -> float:
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            training.training_step(net, optimizer, x, y)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for _ in range(WARMUP_STEPS):
        training.training_step(net, optimizer, x, y)
    return block


def _max_rel_err(a, b) -> float:
    scale = max(1.0, b.abs().max().item())
    return (a.to(b.dtype) - b).abs().max().item() / scale


def run(config: dict) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from blitzbench.measure.batches import class_targets, images, seeded_model
    from reference_models import training_step as training

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    error_dir = Path(config["error_dir"])
    try:
        torch.set_num_threads(config["threads"])
        cuda = config["backend"] == "nccl"
        device = torch.device(f"cuda:{local_rank}") if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(device)
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        dist.init_process_group(config["backend"], timeout=timedelta(seconds=config["timeout"]))
        dtype = getattr(torch, config["dtype"])
        model_name, global_batch, steps = config["model"], config["global_batch"], config["steps"]
        per_rank = global_batch // world
        shard = slice(rank * per_rank, (rank + 1) * per_rank)
        net = seeded_model(model_name, device, dtype, seed=0)
        ddp = DDP(net, device_ids=[local_rank] if cuda else None)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=training.CHECK_LR, momentum=training.MOMENTUM)
        planted = config.get("plant_failure")

        def batch(step):
            # The same global batch on every rank; each takes its shard.
            x = images(model_name, global_batch, "cpu", dtype, seed=1000 + step).to(device)
            y = class_targets(model_name, global_batch, "cpu", seed=1000 + step).to(device)
            return x, y

        def train_step(step, x, y):
            if planted and planted["rank"] == rank and planted["step"] == step:
                if planted["how"] == "exit":
                    os._exit(3)
                raise RuntimeError(f"planted failure on rank {rank} at step {step}")
            training.gradients(ddp, optimizer, x[shard], y[shard])

        result = {"world_size": world, "backend": config["backend"], "model": model_name,
                  "global_batch_size": global_batch, "per_rank_batch_size": per_rank, "steps": steps,
                  "dtype": config["dtype"], "threads_per_rank": config["threads"],
                  "torch_version": torch.__version__, "device": str(device.type)}
        if config["verify"]:
            reference = seeded_model(model_name, device, dtype, seed=0) if rank == 0 else None
            ref_optimizer = torch.optim.SGD(reference.parameters(), lr=training.CHECK_LR, momentum=training.MOMENTUM) if reference else None
            for step in range(steps):
                x, y = batch(step)
                train_step(step, x, y)
                if reference is not None:
                    training.gradients(reference, ref_optimizer, x, y)
                    if step == 0:
                        result["grad_max_rel_err"] = _max_rel_err(_flat(p.grad for p in net.parameters()),
                                                                  _flat(p.grad for p in reference.parameters()))
                    ref_optimizer.step()
                optimizer.step()
            # Between ranks: the elementwise max and min over ranks must coincide. (all_reduce, not
            # all_gather: after a gloo all_gather the training steps here ran at half speed.)
            params = _flat(net.parameters())
            highest, lowest = params.clone(), params.clone()
            dist.all_reduce(highest, op=dist.ReduceOp.MAX)
            dist.all_reduce(lowest, op=dist.ReduceOp.MIN)
            if rank == 0:
                result["param_max_rel_err"] = _max_rel_err(params, _flat(reference.parameters()))
                result["rank_max_abs_diff"] = (highest - lowest).abs().max().item()
            del reference, ref_optimizer
        # Timing: warm up first.
        for step in range(WARMUP_STEPS):
            x, y = batch(step)
            train_step(-1, x, y)
            optimizer.step()
        # Timed in blocks (--timed-steps split evenly): each block starts with the ranks lined up
        # at a barrier, and its time is the slowest rank's. With "yardstick", each block is
        # paired with one of one process alone (_one_process_block), in alternating order
        # (A B, B A, A B, ...), so that the machine's drift and the position in a pair fall on
        # both sides alike.
        x, y = batch(0)
        blocks = config.get("blocks", 1)
        per_block = max(1, config["timed_steps"] // blocks)
        alone = _one_process_block(model_name, device, dtype, x[shard], y[shard], per_block, cuda) \
            if config.get("yardstick") and rank == 0 else None
        block_seconds, single_seconds = [], []

        def time_alone():
            dist.barrier()
            if alone is not None:
                single_seconds.append(alone())  # the other ranks wait at the barrier below
            dist.barrier()

        for i in range(blocks):
            if config.get("yardstick") and i % 2 == 1:
                time_alone()  # odd pairs: one process first (A B, B A, ...), so order cancels out
            if cuda:
                torch.cuda.synchronize()
            dist.barrier()
            start = time.perf_counter()
            for _ in range(per_block):
                train_step(-1, x, y)
                optimizer.step()
            if cuda:
                torch.cuda.synchronize()
            elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64, device=device)
            dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
            block_seconds.append(elapsed.item())
            if config.get("yardstick") and i % 2 == 0:
                time_alone()
        result["block_seconds"], result["steps_per_block"] = block_seconds, per_block
        result["seconds"] = sum(block_seconds)
        result["samples_per_s"] = rate_from_blocks(block_seconds, global_batch * per_block)
        if single_seconds:
            result["single_block_seconds"] = single_seconds
            result["single_process_samples_per_s"] = rate_from_blocks(single_seconds, per_rank * per_block)
            result["scaling_efficiency"] = interleaved_efficiency(block_seconds, single_seconds)
        if rank == 0:
            Path(config["result_file"]).write_text(json.dumps(result))
        dist.destroy_process_group()
    except BaseException as error:
        failures.record(error_dir, rank, error)
        raise
    # Leave without freeing this frame or Python's teardown: on torch 2.4.1 (gloo), freeing the DDP
    # Reducer ran ~ProcessGroupGloo, which joins a gloo thread that waits for the GIL the main
    # thread holds (py-spy showed both), so a rank that had finished hung for good. The result is
    # written and the process group destroyed by now; the OS frees the rest.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str]) -> None:
    """``python -m blitzbench.distributed.worker CONFIG.json``: one rank of the run CONFIG.json describes."""
    (config_file,) = argv
    run(json.loads(Path(config_file).read_text()))  # ends the process itself (os._exit)


if __name__ == "__main__":
    main(sys.argv[1:])
