"""The chapter's five-step image classifier (section 8), as a function (its command: ``blitzbench train``).

    1. load and normalise the train and test sets          (reference_models.data)
    2. define the network                                  (reference_models.build)
    3. define a loss (cross-entropy) and an optimizer       (SGD with momentum, or Adam)
    4. train on the training data
    5. test on the test data, after every epoch

Two loops train the same model with the same loss and optimizer family, but not the same steps
(batch, momentum, weight decay, schedule and augmentation differ):

  --loop tutorial   the chapter's loop as written: a DataLoader over the transformed dataset
                    (ToTensor + Normalize on PIL images), batch 4, SGD lr 0.001 momentum 0.9.
  --loop fast       the data held as normalised tensors on the device; each epoch shuffles by
                    index, slices batches, and augments whole batches at once (random shifts;
                    flips too for CIFAR-10); a larger batch, Nesterov momentum, a little weight
                    decay and a one-cycle learning-rate schedule (warm up, then anneal to ~0).
                    With --mode cudagraph (CUDA only), zero_grad, forward, loss and backward are
                    captured once per batch shape as a CUDA graph and replayed per batch
                    (reference_models.cuda_graphs); the optimizer step stays outside the graph,
                    because the schedule changes its learning rate every step. The capture is
                    inside the training clock.

    blitzbench train --model chapter_net --dataset mnist5k --loop fast --epochs 10
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from reference_models import MODELS, cuda_graphs, data
from reference_models import training_step as steps
from reference_models.registry import build

LOOPS = ("tutorial", "fast")
MODES = ("eager", "cudagraph")
OPTIMIZERS = ("sgd", "adam")
# What each loop uses when an option is not given. The fast loop's values were chosen so that
# chapter_net reaches 97% on mnist5k within 10 epochs (docs/training.md).
LOOP_DEFAULTS = {
    "tutorial": {"batch_size": 4, "optimizer": "sgd", "lr": {"sgd": steps.TUTORIAL_LR, "adam": 0.001}, "augment": False},
    "fast": {"batch_size": 64, "optimizer": "sgd", "lr": {"sgd": 0.05, "adam": 0.003}, "augment": True},
}
MOMENTUM = steps.MOMENTUM
FAST_WEIGHT_DECAY = 5e-4
EVAL_BATCH = 1000


@dataclass
class TrainConfig:
    model: str = "chapter_net"
    dataset: str = "mnist5k"
    epochs: int = 10
    batch_size: int | None = None  # None: the loop's default
    optimizer: str | None = None
    lr: float | None = None
    device: str = "cpu"
    seed: int = 0
    loop: str = "fast"
    data_root: str | None = None
    workers: int = 0
    augment: bool | None = None
    target_accuracy: float | None = None  # stop after the first epoch that reaches it
    mode: str = "eager"  # "cudagraph": the fast loop's step replayed as a CUDA graph (CUDA only)

    def resolved(self) -> "TrainConfig":
        defaults = LOOP_DEFAULTS[self.loop]
        optimizer = self.optimizer or defaults["optimizer"]
        return TrainConfig(**{**asdict(self), "optimizer": optimizer,
                              "batch_size": self.batch_size or defaults["batch_size"],
                              "lr": self.lr or defaults["lr"][optimizer],
                              "augment": defaults["augment"] if self.augment is None else self.augment})


@dataclass
class Epoch:
    epoch: int
    train_loss: float  # mean over the epoch's batches
    test_accuracy: float
    train_seconds: float  # cumulative, evaluation excluded


@dataclass
class TrainResult:
    config: TrainConfig
    history: list[Epoch] = field(default_factory=list)
    train_samples: int = 0
    normalization: dict | None = None
    warmup_seconds: float | None = None  # the untimed warm-up before the first epoch

    @property
    def test_accuracy(self) -> float:
        return self.history[-1].test_accuracy if self.history else float("nan")

    @property
    def train_seconds(self) -> float:
        return self.history[-1].train_seconds if self.history else 0.0

    def seconds_to(self, accuracy: float) -> float | None:
        """Training seconds until the end of the first epoch with test accuracy >= accuracy."""
        return next((e.train_seconds for e in self.history if e.test_accuracy >= accuracy), None)

    def summary(self) -> dict:
        c = self.config
        return {"model": c.model, "dataset": c.dataset, "loop": c.loop, "epochs": len(self.history),
                "test_accuracy": self.test_accuracy, "train_seconds": self.train_seconds,
                "samples_per_s": self.train_samples / self.train_seconds if self.train_seconds else None,
                "seed": c.seed, "device": c.device, "torch_version": torch.__version__,
                "batch_size": c.batch_size, "optimizer": c.optimizer, "lr": c.lr, "augment": c.augment,
                "mode": c.mode,
                "normalization": self.normalization, "warmup_seconds": self.warmup_seconds,
                "history": [asdict(e) for e in self.history]}


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def make_optimizer(config: TrainConfig, net: torch.nn.Module) -> torch.optim.Optimizer:
    fast = config.loop == "fast"
    if config.optimizer == "adam":
        return torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=FAST_WEIGHT_DECAY if fast else 0.0)
    return torch.optim.SGD(net.parameters(), lr=config.lr, momentum=MOMENTUM, nesterov=fast,
                           weight_decay=FAST_WEIGHT_DECAY if fast else 0.0)


@torch.inference_mode()
def accuracy(net: torch.nn.Module, batches) -> float:
    """Step 5: the fraction of test images whose largest logit is the true class."""
    net.eval()
    correct = total = 0
    for x, y in batches:
        correct += (net(x).argmax(dim=1) == y).sum().item()
        total += len(y)
    net.train()
    return correct / total


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def update(self, epoch: int, epochs: int, done: int, total: int) -> None:
        if self.enabled and (done == total or done % max(1, total // 50) == 0):
            filled = int(30 * done / total)
            print(f"\repoch {epoch}/{epochs} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}",
                  end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.enabled:
            print("\r" + " " * 70 + "\r", end="", file=sys.stderr, flush=True)


def train(config: TrainConfig, splits: data.DatasetSplits | None = None, report=None,
          progress: Progress | None = None) -> TrainResult:
    """Run the five steps; ``report(epoch)`` is called after each epoch."""
    config = config.resolved()
    if config.mode == "cudagraph" and (config.loop != "fast" or config.device != "cuda"):
        raise ValueError(f"mode cudagraph needs the fast loop on CUDA; got the {config.loop} loop on {config.device}")
    splits = splits or data.load(config.dataset, config.data_root)  # step 1
    spec = MODELS[config.model]
    if splits.channels != spec.input_shape[0]:
        raise ValueError(f"{config.model} takes {spec.input_shape[0]}-channel images; {config.dataset} has "
                         f"{splits.channels}")
    torch.manual_seed(config.seed)
    net = build(config.model).to(config.device)  # step 2
    optimizer = make_optimizer(config, net)  # step 3 (the loss is F.cross_entropy)
    mean, std = data.channel_stats(splits.train)
    result = TrainResult(config, normalization={"mean": mean, "std": std})
    result.warmup_seconds = warm_up(config, spec.input_shape)
    loop = _tutorial_loop if config.loop == "tutorial" else _fast_loop
    loop(config, splits, net, optimizer, result, report or (lambda epoch: None), progress or Progress(False))
    return result


def warm_up(config: TrainConfig, input_shape: tuple) -> float:
    """Untimed: one training step at the loop's batch size and one evaluation batch, on a
    throwaway model of the same kind on the same device, so that lazy start-up (CUDA context,
    cuDNN's algorithm choice, the allocator's first blocks, the first kernel compilations) is not
    charged to the first epoch. The random state is left as it was: the run is the same with or
    without it. Returns the seconds it took."""
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        net = build(config.model).to(config.device)
        optimizer = make_optimizer(config, net)
        x = torch.randn(config.batch_size, *input_shape).to(config.device)
        y = torch.zeros(config.batch_size, dtype=torch.long).to(config.device)
        steps.training_step(net, optimizer, x, y)
        with torch.inference_mode():
            net.eval()
            net(torch.randn(EVAL_BATCH, *input_shape).to(config.device))
    _synchronize(config.device)
    return time.perf_counter() - start


def _tutorial_loop(config, splits, net, optimizer, result, report, progress):
    """The chapter's loop: DataLoader over PIL images with ToTensor + Normalize."""
    train_loader = data.data_loader(splits.train, data.tutorial_transform(splits, config.augment),
                                    config.batch_size, shuffle=True, workers=config.workers,
                                    device=config.device, seed=config.seed)
    test_loader = data.data_loader(splits.test, data.tutorial_transform(splits), EVAL_BATCH, shuffle=False,
                                   workers=0, device=config.device)
    device, seconds = config.device, 0.0
    for epoch in range(1, config.epochs + 1):
        _synchronize(device)
        start = time.perf_counter()
        total_loss, batches = 0.0, 0
        for i, (inputs, labels) in enumerate(train_loader, 1):  # step 4
            inputs, labels = inputs.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            loss = steps.training_step(net, optimizer, inputs, labels)
            total_loss += loss.item()
            batches += 1
            progress.update(epoch, config.epochs, i, len(train_loader))
        _synchronize(device)
        seconds += time.perf_counter() - start
        result.train_samples += len(splits.train)
        test = ((x.to(device), y.to(device)) for x, y in test_loader)
        if _record(result, epoch, total_loss / batches, accuracy(net, test), seconds, report, progress):
            return


def _fast_loop(config, splits, net, optimizer, result, report, progress):
    """The same steps with the data on the device, batched by index, augmented per batch."""
    device = config.device
    tensors = data.DeviceData.from_splits(splits, device)  # normalised once, kept on the device
    n, bs = len(tensors.train_y), config.batch_size
    steps_per_epoch = math.ceil(n / bs)
    # One cycle: warm up over the first 20% of steps, then anneal towards zero; a short run needs
    # no hand-tuned decay epochs.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, pct_start=0.2,
                                                   total_steps=config.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(config.seed)  # shuffles and augmentation: reproducible
    test = [(tensors.test_x[i:i + EVAL_BATCH], tensors.test_y[i:i + EVAL_BATCH])
            for i in range(0, len(tensors.test_y), EVAL_BATCH)]
    graphs: dict[int, cuda_graphs.GraphedGradients] = {}  # --mode cudagraph: one per batch size

    def gradients(x, y) -> torch.Tensor:
        """zero_grad, forward, loss, backward: eager, or a captured graph's replay."""
        if config.mode != "cudagraph":
            return steps.gradients(net, optimizer, x, y)
        if len(y) not in graphs:  # the last batch of an epoch may be smaller: a graph of its own
            pool = next(iter(graphs.values())).graph.pool() if graphs else None
            graphs[len(y)] = cuda_graphs.GraphedGradients(net, F.cross_entropy, x, y, pool=pool)
        return graphs[len(y)](x, y).clone()  # the static loss is overwritten by the next replay

    seconds = 0.0
    for epoch in range(1, config.epochs + 1):
        _synchronize(device)
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator).to(device)  # shuffling by index, no copies
        losses = []
        for step in range(steps_per_epoch):
            idx = order[step * bs:(step + 1) * bs]
            x, y = tensors.train_x[idx], tensors.train_y[idx]
            if config.augment:
                x = data.augment_batch(config.dataset, x, tensors.background, generator)
            loss = gradients(x, y)
            optimizer.step()
            schedule.step()
            losses.append(loss.detach())  # no .item() per step: no host-device sync in the loop
            progress.update(epoch, config.epochs, step + 1, steps_per_epoch)
        mean_loss = torch.stack(losses).mean().item()
        _synchronize(device)
        seconds += time.perf_counter() - start
        result.train_samples += n
        if _record(result, epoch, mean_loss, accuracy(net, test), seconds, report, progress):
            return


def _record(result, epoch, loss, test_accuracy, seconds, report, progress) -> bool:
    """Keep the epoch's numbers; True when the run should stop (target accuracy reached)."""
    progress.clear()
    result.history.append(Epoch(epoch, loss, test_accuracy, seconds))
    report(result.history[-1])
    target = result.config.target_accuracy
    return target is not None and test_accuracy >= target
