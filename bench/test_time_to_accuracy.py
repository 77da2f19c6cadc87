"""Benchmark: seconds for the tutorial loop and the fast loop to reach 95% on mnist5k (section 8).

Both loops train chapter_net from seeds 0, 1 and 2 (seed 0 alone with --benchmark-disable, as a
smoke test) until the end of the first epoch whose test accuracy reaches 95%; on CUDA the fast
loop also runs with its step replayed as a CUDA graph (``--mode cudagraph`` of
reference_models.train), reported beside eager. pytest-benchmark times all the seeds' runs, test
passes included, in one round; ``extra_info["seconds_to_accuracy"]`` is the median over the seeds
of the training time alone (``seconds_per_seed`` lists them), and the end-of-run table sets the
loops side by side with their ratios.
"""

import statistics

import pytest

from blitzbench.plugin.session import of
from reference_models.data import torchvision_unavailable_reason
from reference_models.train import TrainConfig, train

TARGET, MAX_EPOCHS, MODEL, DATASET = 0.95, 10, "chapter_net", "mnist5k"
SEEDS = (0, 1, 2)


@pytest.mark.parametrize("loop, mode", [("tutorial", "eager"), ("fast", "eager"), ("fast", "cudagraph")],
                         ids=["tutorial", "fast", "fast-cudagraph"])
def test_time_to_accuracy(benchmark, loop, mode, device, request):
    if MODEL not in of(request.config).models:
        pytest.skip(f"--models leaves out {MODEL}, the model this benchmark trains")
    if loop == "tutorial" and (reason := torchvision_unavailable_reason()):
        pytest.skip(f"the tutorial loop's transforms: {reason}")
    if mode == "cudagraph" and device != "cuda":
        pytest.skip(f"the fast loop's cudagraph mode replays CUDA graphs, which need a CUDA device; {device} runs eager")
    benchmark.group = f"time to {TARGET:.0%}: {DATASET}"
    seeds = SEEDS if not benchmark.disabled else SEEDS[:1]

    def train_each_seed():
        return [train(TrainConfig(model=MODEL, dataset=DATASET, epochs=MAX_EPOCHS, loop=loop, device=device,
                                  seed=seed, target_accuracy=TARGET, mode=mode)) for seed in seeds]

    results = benchmark.pedantic(train_each_seed, rounds=1, iterations=1)
    seconds = []
    for seed, result in zip(seeds, results):
        reached = result.seconds_to(TARGET)
        assert reached is not None, f"{loop} loop, seed {seed}, did not reach {TARGET:.0%} in {MAX_EPOCHS} epochs: " \
                                    f"{[round(e.test_accuracy, 4) for e in result.history]}"
        seconds.append(reached)
    summary = results[0].summary()
    benchmark.extra_info.update(
        kind="time_to_accuracy", model=MODEL, dataset=DATASET, loop=loop, mode=mode, device=device, target=TARGET,
        seconds_to_accuracy=statistics.median(seconds), seconds_per_seed=seconds, seeds=list(seeds),
        seconds_spread=max(seconds) - min(seconds), epochs=statistics.median(len(r.history) for r in results),
        epochs_per_seed=[len(r.history) for r in results], test_accuracy=[r.test_accuracy for r in results],
        warmup_seconds=[r.warmup_seconds for r in results],
        batch_size=summary["batch_size"], optimizer=summary["optimizer"], lr=summary["lr"],
        torch_version=summary["torch_version"],
        timer="time.perf_counter around the training epochs (device synchronised), after an untimed warm-up; "
              "test passes excluded; the median over the seeds")
