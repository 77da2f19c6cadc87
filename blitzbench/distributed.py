"""Beyond one device: the chapter's training step under DistributedDataParallel, started by torchrun.

    blitzbench distributed --nproc N --model M --batch-size GLOBAL --backend gloo|nccl --steps K [--json]

Each of the N ranks takes its shard of every global batch (GLOBAL / N samples); DDP averages the
gradients across ranks; SGD with momentum steps. Because the shards are equal and the loss is a
mean, the averaged gradient is the gradient of one process on the whole global batch, so the run
verifies itself on rank 0 against one plain process (same seed, same global batches):

  grad_max_rel_err   after one backward: max |DDP gradient - one-process gradient| / max(1, max |one-process gradient|)
  param_max_rel_err  after K steps: the same for the parameters
  rank_max_abs_diff  after K steps: max absolute difference of the parameters between ranks (0 expected)

(The first two were called grad_max_abs_err and param_max_abs_err, though they were always
relative to max(1, the largest magnitude).) Then it times --timed-steps further training steps on
all ranks in blocks (each block's time is the slowest rank's): samples_per_s, all ranks together,
is samples per block / the median block time. Next to each block, rank 0 times one block of one
process alone (a plain model, the same per-rank batch and thread budget) while the other ranks
wait at a barrier: blocks interleaved, in alternating order (A B, B A, ...), as any comparison on
a drifting machine must be.
scaling_efficiency = the median over the pairs of (samples/s of the N ranks) / (N x samples/s
of one process); single_process_samples_per_s is one process's samples per block / its median
block. (Before, the one-process yardstick was a second torchrun launch after the first, and a
1-rank run, identical work on both sides, read 1.11 to 1.27 from drift alone.)

torch.distributed and torchrun are used as they are: this module only builds the torchrun command
(standalone rendezvous on loopback, no restarts) and is the entry point torchrun starts on each
rank. A rank that fails ends the whole run: torchrun stops the others, and the command exits 1
naming the failed rank. Bad input: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from blitzbench import ROOT

PROG = "blitzbench distributed"
BACKENDS = ("gloo", "nccl")
BLOCKS = 5  # the command's timed steps are split into blocks; the rate uses the median block
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}  # max error relative to max(1, the largest magnitude)
WARMUP_STEPS = 3


# -- on each rank (started by torchrun) ------------------------------------------------------------

def _flat(tensors):
    import torch

    return torch.cat([t.detach().reshape(-1) for t in tensors])


def rate_from_blocks(block_seconds: list[float], samples_per_block: int) -> float:
    """Samples per second from timed blocks: samples per block / the median block time (the
    statistic the benchmark's table uses for every case)."""
    return samples_per_block / statistics.median(block_seconds)


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


def worker(config: dict) -> None:
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
        failed_at = time.time_ns()  # the file's mtime ticks too coarsely to order two ranks
        (error_dir / f"rank{rank}.error").write_text(f"{failed_at}\n{type(error).__name__}: {error}")
        raise
    # Leave without freeing this frame or Python's teardown: on torch 2.4.1 (gloo), freeing the DDP
    # Reducer ran ~ProcessGroupGloo, which joins a gloo thread that waits for the GIL the main
    # thread holds (py-spy showed both), so a rank that had finished hung for good. The result is
    # written and the process group destroyed by now; the OS frees the rest.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# -- the command -------------------------------------------------------------------------------------

class RunFailed(Exception):
    """The distributed run did not finish; the message names the failed rank where known."""


def torchrun_command(nproc: int, config_file: Path) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
            "--nproc-per-node", str(nproc), "--max-restarts", "0", "--monitor-interval", "0.5",
            "-m", "blitzbench", "distributed", "--worker", str(config_file)]


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
            raise RunFailed(_failure_message(output, tmp, proc.returncode))
        return json.loads((tmp / "result.json").read_text())


def _failure_message(output: str, error_dir: Path, status: int) -> str:
    """Name the rank whose failure ended the run.

    torchrun lists every failed rank with its exit code. A rank that died without writing its
    error file (it exited, or was killed) is the cause: the others' errors ("connection closed
    by peer") follow from it. Otherwise the earliest failure is the first: each error file starts
    with the time its rank caught the error (time.time_ns; the others' errors come only after the
    failed rank's process has closed its connections). File modification times do not order them:
    the kernel stamps files with a clock that ticks every few milliseconds, and two ranks' files
    written within one tick tie.
    """
    failed = {int(r): int(c) for r, c in re.findall(r"rank\s*:\s*(\d+) \(local_rank: \d+\)\s*\n\s*exitcode\s*:\s*(-?\d+)",
                                                  output)}
    errors = {int(p.stem[4:]): p for p in error_dir.glob("rank*.error")}
    silent = sorted(r for r in failed if r not in errors)
    if silent:
        rank = silent[0]
        return (f"rank {rank} exited with code {failed[rank]} without raising; torchrun stopped the others "
                f"(exit status {status})")
    if errors:
        caught = {r: _read_error_file(path) for r, path in errors.items()}
        rank = min(caught, key=lambda r: (caught[r][0], r))
        return f"rank {rank} failed: {caught[rank][1]}; torchrun stopped the others (exit status {status})"
    tail = " | ".join(output.strip().splitlines()[-3:])
    return f"torchrun exited with status {status}: {tail}"


def _read_error_file(path: Path) -> tuple[int, str]:
    """(when the rank caught its error, in ns, the error): the file's first line, then the rest."""
    stamp, _, message = path.read_text().partition("\n")
    try:
        return int(stamp), message.strip()
    except ValueError:  # not written by this module's worker: order it by its modification time
        return path.stat().st_mtime_ns, path.read_text().strip()


def _failure(text: str) -> dict:
    match = re.fullmatch(r"(\d+):(\d+):(raise|exit)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}; accepted: RANK:STEP:raise or RANK:STEP:exit")
    return {"rank": int(match.group(1)), "step": int(match.group(2)), "how": match.group(3)}


def parse_args(argv=None):
    from blitzbench.cases import MODEL_ORDER
    from blitzbench.cli.args import OneLineParser, positive_float, whole_number as _int

    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("--nproc", type=_int, default=2, metavar="N", help="processes (ranks) on this machine (default: 2)")
    p.add_argument("--model", choices=MODEL_ORDER, default="chapter_net", help="the network")
    p.add_argument("--batch-size", type=_int, default=64, metavar="GLOBAL",
                   help="global batch, split evenly over the ranks (default: 64)")
    p.add_argument("--backend", choices=BACKENDS, default="gloo", help="gloo (CPU) or nccl (one GPU per rank)")
    p.add_argument("--steps", type=_int, default=20, metavar="K",
                   help="SGD steps to verify, and then to time (default: 20)")
    p.add_argument("--timed-steps", type=_int, default=50, metavar="N",
                   help="training steps timed after the check (default: 50)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="the parameters' and batches' dtype, which sets the tolerance")
    p.add_argument("--timeout", type=positive_float, default=300.0, metavar="S",
                   help="seconds before a run is stopped (default: 300)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # one rank, as torchrun starts it
    p.add_argument("--plant-failure", type=_failure, default=None, metavar="RANK:STEP:raise|exit",
                   help="testing: make RANK raise (or exit) at verification step STEP")
    a = p.parse_args(argv)
    import torch

    if a.nproc < 1:
        p.error(f"--nproc {a.nproc}: accepted: 1 or more processes")
    if a.backend == "nccl":
        if not torch.cuda.is_available():
            p.error("--backend nccl needs CUDA, which is not available here; accepted here: --backend gloo")
        if a.nproc > torch.cuda.device_count():
            p.error(f"--nproc {a.nproc}: nccl takes one GPU per rank and this machine has "
                    f"{torch.cuda.device_count()}; accepted: 1 to {torch.cuda.device_count()}")
    elif a.nproc > (os.cpu_count() or 1):
        p.error(f"--nproc {a.nproc}: this machine has {os.cpu_count()} CPU cores, one per gloo rank at least; "
                f"accepted: 1 to {os.cpu_count()}")
    if a.batch_size < 1 or a.batch_size % a.nproc:
        p.error(f"--batch-size {a.batch_size}: the global batch must be a positive multiple of --nproc {a.nproc}")
    if a.steps < 1 or a.timed_steps < 1:
        p.error(f"--steps {a.steps} / --timed-steps {a.timed_steps}: accepted: 1 or more")
    if a.plant_failure and a.plant_failure["rank"] >= a.nproc:
        p.error(f"--plant-failure rank {a.plant_failure['rank']}: accepted: 0 to {a.nproc - 1}")
    return a


def run(a) -> dict:
    threads = max(1, (os.cpu_count() or 1) // a.nproc) if a.backend == "gloo" else 1
    base = {"backend": a.backend, "model": a.model, "steps": a.steps, "timed_steps": a.timed_steps,
            "dtype": a.dtype, "threads": threads, "blocks": min(BLOCKS, a.timed_steps),
            "timeout": a.timeout, "plant_failure": a.plant_failure}
    # The yardstick for scaling (one process, the same per-rank batch and thread budget) is timed
    # in the same run, a block of it after each block of the ranks.
    result = launch(a.nproc, dict(base, global_batch=a.batch_size, verify=True, yardstick=True), a.timeout)
    tol = TOLERANCE[a.dtype]
    result["tolerance"] = tol
    result["within_tolerance"] = (result["grad_max_rel_err"] <= tol and result["param_max_rel_err"] <= tol
                                  and result["rank_max_abs_diff"] == 0)
    return result


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.worker:
        worker(json.loads(Path(a.worker).read_text()))  # ends the process itself (os._exit)
        return 0
    try:
        result = run(a)
    except RunFailed as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    print(f"{result['world_size']} x {result['backend']} ranks, {result['model']}, global batch "
          f"{result['global_batch_size']} ({result['per_rank_batch_size']} per rank, {result['threads_per_rank']} "
          f"thread(s) each), {result['dtype']}")
    print(f"gradients vs one process: max error {result['grad_max_rel_err']:.2e}; parameters after {a.steps} steps: "
          f"{result['param_max_rel_err']:.2e}; between ranks: {result['rank_max_abs_diff']:.1e} "
          f"({'within' if result['within_tolerance'] else 'OUTSIDE'} {a.dtype} tolerance {result['tolerance']:g})")
    print(f"{result['samples_per_s']:,.0f} samples/s on {result['world_size']} ranks; one process "
          f"{result['single_process_samples_per_s']:,.0f}; scaling efficiency {result['scaling_efficiency']:.2f}")
    if a.json:
        print(json.dumps(result))
    return 0 if result["within_tolerance"] else 1
