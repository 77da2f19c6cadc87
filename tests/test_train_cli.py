"""blitzbench train: its JSON, and one-line errors for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
JSON_KEYS = {"model", "dataset", "epochs", "test_accuracy", "train_seconds", "samples_per_s", "seed", "device",
             "torch_version"}


def run(*args):
    return subprocess.run([sys.executable, "-m", "blitzbench", "train", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_json_is_the_last_line():
    result = run("--dataset", "digits", "--epochs", "2", "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert JSON_KEYS <= summary.keys()
    assert summary["epochs"] == 2 and len(summary["history"]) == 2 and 0 < summary["test_accuracy"] <= 1
    assert any(line.startswith("epoch   1") for line in lines)


@pytest.mark.parametrize("args, says", [
    (["--model", "resnet"], "accepted: chapter_net, lenet, cifar_net"),
    (["--dataset", "imagenet"], "accepted: mnist5k, digits"),
    (["--epochs", "0"], "accepted: a positive integer"),
    (["--epochs", "ten"], "accepted: a positive integer"),
    (["--lr", "fast"], "accepted: a positive number"),
    (["--batch-size", "-4"], "accepted: a positive integer"),
    (["--loop", "slow"], "accepted: tutorial, fast"),
    (["--dataset", "cifar10", "--data-root", "/nonexistent/folder"], "is not a folder"),
    (["--dataset", "cifar10"], "--data-root"),
    (["--model", "cifar_net", "--dataset", "digits"], "3-channel"),
    (["--mode", "graph"], "accepted: eager, cudagraph"),
    (["--mode", "cudagraph"], "needs --device cuda"),
    (["--mode", "cudagraph", "--loop", "tutorial"], "the tutorial loop runs eager only"),
])
def test_bad_input_is_one_line_and_exit_2(args, says, monkeypatch):
    monkeypatch.delenv("BLITZBENCH_DATA_ROOT", raising=False)
    result = run(*args)
    assert result.returncode == 2
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in result.stderr, result.stderr
    assert says in err[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here, so --device cuda is valid")
def test_cuda_without_cuda_is_one_line():
    result = run("--device", "cuda")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "accepted: cpu" in result.stderr


def test_the_cudagraph_mode_needs_the_fast_loop_on_cuda():
    from reference_models.train import TrainConfig, train

    with pytest.raises(ValueError, match="mode cudagraph needs the fast loop on CUDA; got the fast loop on cpu"):
        train(TrainConfig(mode="cudagraph", device="cpu"))


def test_the_commands_accepted_values_are_those_of_the_training_code():
    """blitzbench.cli.train names them without importing torch, so --help answers fast."""
    from blitzbench.cli import train as cli
    from reference_models import MODELS, data
    from reference_models import train as training

    assert cli.DATASETS == data.DATASETS and set(cli.LOCAL_DATASETS) == set(data.LOCAL_DATASETS)
    assert cli.DATA_ROOT_ENV == data.DATA_ROOT_ENV
    assert (cli.LOOPS, cli.MODES, cli.OPTIMIZERS) == (training.LOOPS, training.MODES, training.OPTIMIZERS)
    assert tuple(MODELS) == cli.MODEL_ORDER
