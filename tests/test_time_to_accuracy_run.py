"""Time to accuracy (docs/training.md): warm-up outside the clock, 3 seeds, compared across runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reference_models.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def test_the_warm_up_runs_before_the_clock_and_changes_nothing():
    config = TrainConfig(model="chapter_net", dataset="digits", epochs=1, loop="fast", seed=3)
    result = train(config)
    assert result.warmup_seconds is not None and result.warmup_seconds > 0
    again = train(config)  # the warm-up leaves the random state alone: the same seed trains the same
    assert again.history[0].train_loss == result.history[0].train_loss


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """One real run of the fast loop's benchmark in a/, and in b/ the same run 25% slower per seed
    (a copy: the report needs two runs, and a second real one costs as much again)."""
    results = tmp_path_factory.mktemp("tta")
    done = subprocess.run([sys.executable, "-m", "pytest", "bench/test_time_to_accuracy.py", "-q",
                           "-p", "no:cacheprovider", "--benchmark-only", "--device=cpu", "-k", "fast and not cudagraph",
                           f"--results-dir={results / 'a'}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    (saved,) = (results / "a").glob("*.json")
    run = json.loads(saved.read_text())
    info = run["benchmarks"][0]["extra_info"]
    info["seconds_per_seed"] = [1.25 * s for s in info["seconds_per_seed"]]
    info["seconds_to_accuracy"] *= 1.25
    (results / "b").mkdir()
    (results / "b" / saved.name).write_text(json.dumps(run))
    return results


def test_three_seeds_are_trained_and_their_median_reported(two_runs):
    (saved,) = (two_runs / "a").glob("*.json")
    (bench,) = json.loads(saved.read_text())["benchmarks"]
    info = bench["extra_info"]
    assert info["seeds"] == [0, 1, 2] and len(info["seconds_per_seed"]) == 3
    assert info["seconds_to_accuracy"] == sorted(info["seconds_per_seed"])[1]
    assert info["seconds_spread"] == pytest.approx(max(info["seconds_per_seed"]) - min(info["seconds_per_seed"]))
    assert all(w > 0 for w in info["warmup_seconds"])


def test_the_report_compares_time_to_accuracy_across_runs(two_runs, tmp_path):
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "blitzbench", "report", str(two_runs / "a"), str(two_runs / "b"),
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    records = [r for r in json.loads(out.read_text())["records"] if "fast_loop" in r["case"]]
    assert {r["case"] for r in records} == {"chapter_net-cpu-mnist5k-fast_loop-to_95%"}
    assert len(records) == 2 and all(r["figure"] > 0 and r["unit"] == "s to accuracy" for r in records)
    (slower,) = [r for r in records if not r["baseline"]]
    assert slower["ratio"] == pytest.approx(1 / 1.25)  # the median over seeds, 25% longer
