"""Benchmark: seconds for the tutorial loop and the fast loop to reach 95% on mnist5k (section 8).

Both loops train chapter_net from the same seed until the end of the first epoch whose test
accuracy reaches 95%; on CUDA the fast loop also runs with its step replayed as a CUDA graph
(``--mode cudagraph`` of reference_models.train), reported beside eager. pytest-benchmark times the whole run, test passes included, in one round;
``extra_info["seconds_to_accuracy"]`` is the training time alone, and the end-of-run table sets
the two loops side by side with their ratio.
"""

import pytest

from reference_models.data import torchvision_unavailable_reason
from reference_models.train import TrainConfig, train

TARGET, MAX_EPOCHS, MODEL, DATASET = 0.95, 10, "chapter_net", "mnist5k"


@pytest.mark.parametrize("loop, mode", [("tutorial", "eager"), ("fast", "eager"), ("fast", "cudagraph")],
                         ids=["tutorial", "fast", "fast-cudagraph"])
def test_time_to_accuracy(benchmark, loop, mode, device, request):
    if MODEL not in request.config.blitz_models:
        pytest.skip(f"--models leaves out {MODEL}, the model this benchmark trains")
    if loop == "tutorial" and (reason := torchvision_unavailable_reason()):
        pytest.skip(f"the tutorial loop's transforms: {reason}")
    if mode == "cudagraph" and device != "cuda":
        pytest.skip(f"the fast loop's cudagraph mode replays CUDA graphs, which need a CUDA device; {device} runs eager")
    benchmark.group = f"time to {TARGET:.0%}: {DATASET}"
    config = TrainConfig(model=MODEL, dataset=DATASET, epochs=MAX_EPOCHS, loop=loop, device=device, seed=0,
                         target_accuracy=TARGET, mode=mode)
    result = benchmark.pedantic(train, args=(config,), rounds=1, iterations=1)
    seconds = result.seconds_to(TARGET)
    assert seconds is not None, f"{loop} loop did not reach {TARGET:.0%} in {MAX_EPOCHS} epochs: " \
                                f"{[round(e.test_accuracy, 4) for e in result.history]}"
    summary = result.summary()
    benchmark.extra_info.update(
        kind="time_to_accuracy", model=MODEL, dataset=DATASET, loop=loop, mode=mode, device=device, target=TARGET,
        seconds_to_accuracy=seconds, epochs=len(result.history), test_accuracy=result.test_accuracy,
        batch_size=summary["batch_size"], optimizer=summary["optimizer"], lr=summary["lr"],
        samples_per_s=summary["samples_per_s"], torch_version=summary["torch_version"],
        timer="time.perf_counter around the training epochs (device synchronised), test passes excluded")
