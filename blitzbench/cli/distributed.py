"""Beyond one device: the chapter's training step under DistributedDataParallel, started by torchrun.

    blitzbench distributed --nproc N --model M --batch-size GLOBAL --backend gloo|nccl --steps K [--json]

Each of the N ranks takes its shard of every global batch (GLOBAL / N samples); DDP averages the
gradients across ranks; SGD with momentum steps. Because the shards are equal and the loss is a
mean, the averaged gradient is the gradient of one process on the whole global batch, so the run
verifies itself on rank 0 against one plain process (same seed, same global batches):

  grad_max_rel_err   after one backward: max |DDP gradient - one-process gradient| / max(1, max |one-process gradient|)
  param_max_rel_err  after K steps: the same for the parameters
  rank_max_abs_diff  after K steps: max absolute difference of the parameters between ranks (0 expected)

Then it times --timed-steps further training steps on all ranks in blocks (each block's time is
the slowest rank's): samples_per_s, all ranks together, is samples per block / the median block
time. Next to each block, rank 0 times one block of one process alone (a plain model, the same
per-rank batch and thread budget) while the other ranks wait at a barrier: blocks interleaved, in
alternating order (A B, B A, ...), as any comparison on a drifting machine must be.
scaling_efficiency = the median over the pairs of (samples/s of the N ranks) / (N x samples/s
of one process); single_process_samples_per_s is one process's samples per block / its median
block.

torch.distributed and torchrun are used as they are: blitzbench.distributed.launcher builds the
torchrun command (standalone rendezvous on loopback, no restarts), which starts
blitzbench.distributed.worker on each rank. A rank that fails ends the whole run: torchrun stops
the others, and the command exits 1 naming the failed rank. Bad input: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from blitzbench.cases import MODEL_ORDER
from blitzbench.cli.args import OneLineParser, positive_float, positive_int, whole_number
from blitzbench.distributed import launcher
from blitzbench.messages import RunFailed

PROG = "blitzbench distributed"


def planted_failure(text: str) -> dict:
    """--plant-failure RANK:STEP:raise|exit -> {"rank", "step", "how"} (the worker's config)."""
    match = re.fullmatch(r"([0-9]+):([0-9]+):(raise|exit)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}; accepted: RANK:STEP:raise or RANK:STEP:exit")
    return {"rank": int(match.group(1)), "step": int(match.group(2)), "how": match.group(3)}


def parse_args(argv=None):
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("--nproc", type=whole_number, default=2, metavar="N", help="processes (ranks) on this machine (default: 2)")
    p.add_argument("--model", choices=MODEL_ORDER, default="chapter_net", help="the network")
    p.add_argument("--batch-size", type=positive_int, default=64, metavar="GLOBAL",
                   help="global batch, split evenly over the ranks (default: 64)")
    p.add_argument("--backend", choices=launcher.BACKENDS, default="gloo", help="gloo (CPU) or nccl (one GPU per rank)")
    p.add_argument("--steps", type=positive_int, default=20, metavar="K",
                   help="SGD steps to verify, and then to time (default: 20)")
    p.add_argument("--timed-steps", type=positive_int, default=50, metavar="N",
                   help="training steps timed after the check (default: 50)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="the parameters' and batches' dtype, which sets the tolerance")
    p.add_argument("--timeout", type=positive_float, default=300.0, metavar="S",
                   help="seconds before a run is stopped (default: 300)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--plant-failure", type=planted_failure, default=None, metavar="RANK:STEP:raise|exit",
                   help="testing: make RANK raise (or exit) at verification step STEP")
    a = p.parse_args(argv)
    import torch  # only now: --help and bad input answer without it

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
    if a.batch_size % a.nproc:
        p.error(f"--batch-size {a.batch_size}: the global batch must be a positive multiple of --nproc {a.nproc}")
    if a.plant_failure and a.plant_failure["rank"] >= a.nproc:
        p.error(f"--plant-failure rank {a.plant_failure['rank']}: accepted: 0 to {a.nproc - 1}")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        result = launcher.verify_and_time(a.nproc, a.model, a.batch_size, a.backend, a.steps, a.timed_steps, a.dtype,
                                          a.timeout, a.plant_failure)
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
