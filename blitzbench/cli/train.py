"""``blitzbench train``: the chapter's five-step image classifier (section 8) as a command.

    blitzbench train --model chapter_net --dataset mnist5k --loop fast --epochs 10

The training itself is reference_models.train.train; this module reads the options, loads the
data, prints each epoch and, with --json, ends with one line of JSON describing the run.
"""

from __future__ import annotations

import json
import os
import sys

import torch

from blitzbench.cases import DEVICES
from blitzbench.cli.args import OneLineParser, choice, non_negative_int, positive_float, positive_int
from reference_models import MODELS, data
from reference_models.train import LOOPS, MODES, OPTIMIZERS, Epoch, Progress, TrainConfig, train

PROG = "blitzbench train"


def parse_args(argv=None) -> tuple[TrainConfig, bool]:
    p = OneLineParser(prog=PROG,
                       description="Train one of the chapter's networks on real images (the five steps).")
    p.add_argument("--model", type=choice(tuple(MODELS)), default="chapter_net", help=f"one of {', '.join(MODELS)}")
    p.add_argument("--dataset", type=choice(data.DATASETS), default="mnist5k", help=f"one of {', '.join(data.DATASETS)}")
    p.add_argument("--epochs", type=positive_int, default=10)
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: 4 (tutorial), 64 (fast)")
    p.add_argument("--optimizer", type=choice(OPTIMIZERS), default=None, help="sgd (default) or adam")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="default: 0.001 (tutorial), 0.05 peak of the one-cycle schedule (fast, SGD), 0.003 (fast, Adam)")
    p.add_argument("--device", type=choice(DEVICES), default="cpu")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--loop", type=choice(LOOPS), default="fast")
    p.add_argument("--data-root", default=None, help=f"folder of torchvision datasets (default: ${data.DATA_ROOT_ENV})")
    p.add_argument("--workers", type=non_negative_int, default=0, help="DataLoader workers (tutorial loop)")
    p.add_argument("--augment", choices=("on", "off"), default=None,
                   help="augmentation (default: off for tutorial, on for fast)")
    p.add_argument("--target-accuracy", type=positive_float, default=None,
                   help="stop after the first epoch whose test accuracy reaches this fraction")
    p.add_argument("--mode", type=choice(MODES), default="eager",
                   help="eager (default) or cudagraph: the fast loop's step replayed as a CUDA graph (CUDA only)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON describing the run")
    a = p.parse_args(argv)
    if a.mode == "cudagraph" and a.loop != "fast":
        p.error(f"--mode cudagraph: the {a.loop} loop runs eager only; accepted: --loop fast --device cuda")
    if a.mode == "cudagraph" and a.device != "cuda":
        p.error(f"--mode cudagraph needs --device cuda (CUDA graphs); accepted on {a.device}: --mode eager")
    if a.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: CUDA is not available here (torch.cuda.is_available() is False); accepted: cpu")
    if a.data_root is not None and a.dataset in data.LOCAL_DATASETS and not os.path.isdir(a.data_root):
        p.error(f"--data-root {a.data_root!r} is not a folder; accepted: an existing folder holding {a.dataset}")
    if a.target_accuracy is not None and a.target_accuracy > 1:
        p.error(f"--target-accuracy {a.target_accuracy} is above 1; accepted: a fraction such as 0.95")
    config = TrainConfig(model=a.model, dataset=a.dataset, epochs=a.epochs, batch_size=a.batch_size,
                         optimizer=a.optimizer, lr=a.lr, device=a.device, seed=a.seed, loop=a.loop,
                         data_root=a.data_root, workers=a.workers,
                         augment=None if a.augment is None else a.augment == "on",
                         target_accuracy=a.target_accuracy, mode=a.mode)
    return config, a.json


def main(argv=None) -> int:
    config, as_json = parse_args(argv)
    try:
        splits = data.load(config.dataset, config.data_root)
    except data.DataUnavailable as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    resolved = config.resolved()
    mean, std = data.channel_stats(splits.train)
    print(f"{resolved.model} on {resolved.dataset} ({len(splits.train)} train / {len(splits.test)} test), "
          f"{resolved.loop} loop, batch {resolved.batch_size}, {resolved.optimizer} lr {resolved.lr}, "
          f"augment {'on' if resolved.augment else 'off'}, {resolved.device} {resolved.mode}, seed {resolved.seed}; "
          f"normalised with mean {tuple(round(m, 4) for m in mean)}, std {tuple(round(s, 4) for s in std)}",
          flush=True)

    def report(e: Epoch) -> None:
        print(f"epoch {e.epoch:3d}  loss {e.train_loss:.4f}  test accuracy {e.test_accuracy:.2%}  "
              f"train {e.train_seconds:.1f}s", flush=True)

    try:
        result = train(config, splits, report, Progress(sys.stderr.isatty()))
    except ValueError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    summary = result.summary()
    print(f"test accuracy {summary['test_accuracy']:.2%} after {summary['epochs']} epochs, "
          f"{summary['train_seconds']:.1f}s training, {summary['samples_per_s']:,.0f} samples/s")
    if as_json:
        print(json.dumps(summary))
    return 0
