"""A benchmark run end to end, as a user runs it: saved, tabulated, readable by pytest-benchmark."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXTRA_INFO = {"model", "phase", "device", "batch_size", "dtype", "samples_per_s", "flops_per_sample",
              "gflops_per_s", "peak_fraction", "peak_memory_bytes", "peak_memory_raw_bytes", "torch_version", "timer",
              "mode", "latency_s"}
MACHINE_INFO = {"torch_version", "torchvision_version", "cuda_version", "cudnn_version", "gpu_name", "gpu_count",
                "cpu_model", "torch_threads", "matmul_peak"}


def run_pytest(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "pytest", "bench/test_throughput.py", "-q", "-p", "no:cacheprovider",
                           "--models=chapter_net", "--batch-sizes=4", "--device=cpu", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    result = run_pytest("--benchmark-only", "--quick", "--phases=forward,backward,step", f"--results-dir={results}")
    assert result.returncode == 0, result.stdout + result.stderr
    return results, result.stdout


def test_run_saves_one_json_and_its_table(saved_run):
    results, stdout = saved_run
    names = sorted(p.name for p in results.iterdir())
    assert len(names) == 2 and names[0].endswith("_cpu.json") and names[1].endswith("_cpu.md"), names
    assert "_torch-" in names[0]
    assert "chapter_net" in (results / names[1]).read_text()
    assert "Throughput: samples/s per device" in stdout and "cpu samples/s" in stdout
    assert "cuda samples/s" not in stdout  # --device=cpu: no CUDA column at all


def test_every_case_carries_its_extra_info(saved_run):
    results, _ = saved_run
    data = json.loads(next(results.glob("*.json")).read_text())
    assert MACHINE_INFO <= data["machine_info"].keys()
    assert data["machine_info"]["matmul_peak"]["cpu"]["gflops_per_s"] > 0
    assert {b["extra_info"]["phase"] for b in data["benchmarks"]} == {"forward", "backward", "step"}
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        assert EXTRA_INFO <= info.keys(), bench["name"]
        assert info["samples_per_s"] == pytest.approx(4 / bench["stats"]["median"])
        if info["phase"] == "step":
            assert info["flops_per_sample"] is None and info["gflops_per_s"] is None
            assert info["flops_missing"].startswith("an optimizer step has no convolutions")  # a missing figure says why
        else:
            assert info["flops_per_sample"] > 0 and 0 < info["peak_fraction"] < 1.5 and "flops_missing" not in info
    page = next(results.glob("*.md")).read_text()
    assert "GFLOP/s n/a (" in page and "step): an optimizer step has no convolutions" in page


def test_the_saved_run_reads_back_as_written_in_the_current_schema(saved_run):
    """Schema round trip on a real run: stamped with the schema version, each record with its kind,
    read back by the report's reader unchanged, every case keyed by its case with the figure saved."""
    from blitzbench import store
    from blitzbench.analysis.saved_runs import load_run
    from blitzbench.cases import Case

    results, _ = saved_run
    path = next(results.glob("*.json"))
    written = json.loads(path.read_text())
    assert written["machine_info"]["blitzbench_schema"] == store.SCHEMA_VERSION
    assert {b["extra_info"]["kind"] for b in written["benchmarks"]} == {"throughput"}
    run = load_run(path)
    assert run.benchmarks == written["benchmarks"] and run.machine_info == written["machine_info"]
    saved = {Case.parse(b["extra_info"]["case_id"]): b["extra_info"] for b in written["benchmarks"]}
    assert set(run.cases) == set(saved)
    for case, stats in run.cases.items():
        assert stats.figure == saved[case]["samples_per_s"] and stats.noise == saved[case]["noise_iqr_over_median"]


def test_pytest_benchmark_compare_reads_the_saved_file(saved_run):
    results, _ = saved_run
    path = next(results.glob("*.json"))
    result = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "chapter_net-cpu-bs4-forward" in result.stdout


def test_a_run_that_times_nothing_saves_nothing(tmp_path):
    result = run_pytest("--benchmark-disable", "--phases=step", f"--results-dir={tmp_path}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_results_dir_that_is_a_file_is_a_usage_error(tmp_path):
    not_a_folder = tmp_path / "file.json"
    not_a_folder.write_text("{}")
    result = run_pytest("--benchmark-only", f"--results-dir={not_a_folder}", "--collect-only")
    assert result.returncode == 4
    assert "--results-dir" in result.stderr and "is a file" in result.stderr


def test_an_interrupted_run_saves_nothing(tmp_path):
    """Ctrl-C after a case was timed: the partial run is not saved (it would read as a whole one)."""
    plugin = tmp_path / "plugins" / "interrupt_after_first_case.py"
    plugin.parent.mkdir()
    plugin.write_text("def pytest_runtest_teardown(item, nextitem):\n    raise KeyboardInterrupt\n")
    results = tmp_path / "results"
    result = subprocess.run([sys.executable, "-m", "pytest", "bench/test_throughput.py", "-q", "-p", "no:cacheprovider",
                             "-p", "interrupt_after_first_case", "--models=chapter_net", "--batch-sizes=4",
                             "--device=cpu", "--phases=forward,step", "--benchmark-only", "--quick",
                             f"--results-dir={results}"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(plugin.parent)})
    assert result.returncode == pytest.ExitCode.INTERRUPTED, result.stdout + result.stderr
    assert "interrupted, so this run is not saved" in result.stdout
    assert not results.exists() or not list(results.iterdir())



def test_skips_are_summarized_once_per_reason_and_the_table_comes_last(tmp_path):
    """No file-by-file skip list (--skip-details, docs/options.md, shows it); the last lines are the
    table and where it was saved."""
    result = subprocess.run([sys.executable, "-m", "pytest", "bench/test_throughput.py", "bench/test_shapes.py",
                             "-q", "-p", "no:cacheprovider", "--models=chapter_net", "--batch-sizes=4",
                             "--phases=forward", "--device=cpu,cuda", "--benchmark-only", "--quick",
                             f"--results-dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert not any(line.startswith("SKIPPED [") for line in lines)
    counted = [line for line in lines if "Skipping non-benchmark" in line]
    assert len(counted) == 1 and counted[0].split()[0].isdigit(), counted
    assert lines[-2].startswith("saved: ") and lines[-1].startswith("table: ")
    passed = next(i for i, line in enumerate(lines) if " passed" in line and " skipped" in line)
    assert passed < next(i for i, line in enumerate(lines) if line.startswith("Throughput: samples/s per device"))
    # the detail is one option away
    detail = subprocess.run([sys.executable, "-m", "pytest", "bench/test_shapes.py", "-q", "-p", "no:cacheprovider",
                             "--models=chapter_net", "--benchmark-only", "--skip-details"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "SKIPPED [" in detail.stdout


def test_markdown_page_says_when_the_run_started_not_when_it_ended():
    """pytest-benchmark's "datetime" is taken at the end of the run, so the page stamps the start itself
    and gives the end beside it."""
    from datetime import datetime, timezone

    from blitzbench.plugin import suite as conftest

    output = {"datetime": "2026-11-28T10:30:00.000000+00:00", "machine_info": {}}
    page = conftest._markdown_page(output, "stem", [], "", datetime(2026, 11, 28, 10, 0, 5, tzinfo=timezone.utc))
    assert "run started 2026-11-28T10:00:05 UTC" in page and "ended 2026-11-28T10:30:00 UTC" in page
