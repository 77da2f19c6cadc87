"""--profile: one trace per case, in TensorBoard's layout, that torch-tb-profiler and Perfetto read."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from blitzbench.measure import profiling
from blitzbench.cases import Case

ROOT = Path(__file__).resolve().parents[1]
FIVE_MB = 5 * 1024 * 1024


def trace_events(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)["traceEvents"]


@pytest.fixture(scope="module")
def profiled_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    cmd = [sys.executable, "-m", "pytest", "bench/test_throughput.py", "--benchmark-only", "--quick", "--profile",
           "-k", "chapter_net", "--device=cpu", "--phases=forward,train_step", "--batch-sizes=4",
           f"--results-dir={results}", "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = (results / "traces").iterdir()
    return run_dir, result.stdout


def test_one_trace_per_case_in_tensorboard_layout(profiled_run):
    run_dir, stdout = profiled_run
    cases = sorted(p.name for p in run_dir.iterdir())
    assert cases == ["chapter_net-cpu-bs4-forward", "chapter_net-cpu-bs4-train_step"]
    for case in cases:
        traces = list((run_dir / case).glob("*.pt.trace.json.gz"))
        assert len(traces) == 1, traces
        assert traces[0].stat().st_size < FIVE_MB
        assert (run_dir / case / "key_averages.txt").read_text().count("Self CPU") >= 1
        assert f"{case}: " in stdout  # the end-of-run list of its costliest operators


def test_traces_hold_three_profiler_steps_and_the_three_labels(profiled_run):
    run_dir, _ = profiled_run
    for trace in run_dir.glob("*/*.pt.trace.json.gz"):
        names = [e.get("name", "") for e in trace_events(trace)]
        steps = {n for n in names if n.startswith("ProfilerStep#")}
        assert len(steps) == profiling.ACTIVE, steps
        for label in profiling.LABELS:
            assert names.count(label) >= profiling.ACTIVE, label


def test_torch_tb_profiler_parses_the_traces(profiled_run, tmp_path):
    loader = pytest.importorskip("torch_tb_profiler.profiler.data",
                                 reason="torch-tb-profiler is not installed (pip install -e '.[profile]')")
    run_dir, _ = profiled_run
    for trace in run_dir.glob("*/*.pt.trace.json.gz"):
        worker, span = trace.name.split(".")[:2]
        parsed = loader.RunProfileData.parse(worker, span, str(trace), str(tmp_path))
        assert len(parsed.steps_names) == profiling.ACTIVE, parsed.steps_names


def test_a_cuda_trace_carries_kernel_events(accelerator, tmp_path):
    result = profiling.profile_case(Case("chapter_net", accelerator, 64, "train_step"), tmp_path)
    categories = {e.get("cat", "") for e in trace_events(result.trace)}
    assert "kernel" in categories, categories
    assert result.time_key in ("self_device_time_total", "self_cuda_time_total")
    assert len(result.top_operators) == 3
