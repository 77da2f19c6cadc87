"""blitzbench.gpu.targets reads what make gpu-check saved and judges the GPU targets (the numbers in
blitzbench.gpu.targets and docs/gpu.md): met, MISSED, or not measured, one row per measurement."""

import json

import pytest

from blitzbench.cli import gpu_targets as command
from blitzbench.gpu import targets as gpu_targets
from blitzbench.cases import Case


def _bench(case: Case, median_s: float, iqr_fraction: float = 0.01) -> dict:
    half = median_s * iqr_fraction / 2
    return {"name": f"test_throughput[{case.id}]", "extra_info": case.fields(),
            "stats": {"median": median_s, "q1": median_s - half, "q3": median_s + half}}


def _run(folder, name, benches, gpu="NVIDIA H100 80GB HBM3"):
    (folder / name).write_text(json.dumps({"machine_info": {"gpu_name": gpu}, "datetime": "2026-11-28T07:00:00",
                                           "benchmarks": benches}))


def _fidelity(folder, ratios: dict):
    (folder / "fidelity.json").write_text(json.dumps({"cases": [{"case": c, "median_ratio": r} for c, r in ratios.items()]}))


def _rows(text: str) -> dict:
    return {line.split("  ")[0].strip(): line for line in text.splitlines()}


def test_each_target_is_judged_against_its_number(tmp_path):
    graphed = Case("lenet", "cuda", 64, "train_step", mode="cudagraph")
    eager_4096 = Case("lenet", "cuda", 4096, "train_step")
    noisy = Case("lenet", "cuda", 64, "forward", mode="cudagraph")
    _run(tmp_path, "modes.json", [_bench(graphed, 64 / 256_000),            # 256,000 images/s >= 200,000
                                  _bench(eager_4096, 4096 / 1_365_000),     # 1,365,000 < 1,450,000
                                  _bench(noisy, 1e-4, iqr_fraction=0.05)])  # 5% > 3%
    _fidelity(tmp_path, {"chapter_net-cuda-bs64-forward": 1.02, "lenet-cuda-bs64-train_step-cudagraph": 0.93,
                         "chapter_net-cpu-bs4-forward": 1.5})  # the CPU case is not a CUDA target
    text = gpu_targets.report(tmp_path)
    rows = _rows(text)
    assert rows["lenet train_step, batch 64, cudagraph"].rstrip().endswith(" met")
    assert "256,000 images/s" in rows["lenet train_step, batch 64, cudagraph"]
    assert rows["lenet train_step, batch 4096, eager"].rstrip().endswith("MISSED")
    noise_row = next(line for line in text.splitlines() if line.startswith("cudagraph noise"))
    assert "IQR/median 5.0%" in noise_row and noise_row.rstrip().endswith("MISSED") and noisy.id in noise_row
    assert rows["CUDA fidelity (chapter_net-cuda-bs64-forward)"].rstrip().endswith(" met")
    assert rows["CUDA fidelity (lenet-cuda-bs64-train_step-cudagraph)"].rstrip().endswith("MISSED")
    assert "cpu-bs4" not in text
    assert text.splitlines()[-1].startswith("GPU targets (set for one H100): 2 met, 3 missed, 0 not measured")
    assert "NVIDIA H100 80GB HBM3" in text.splitlines()[-1]


def test_what_was_not_measured_is_said(tmp_path):
    _run(tmp_path, "cpu.json", [_bench(Case("lenet", "cpu", 64, "train_step"), 0.01)], gpu=None)
    text = gpu_targets.report(tmp_path)
    assert text.count("not measured") >= 4 + 1  # four rows and the summary
    assert "no fidelity.json" in text and "GPU: not recorded" in text


def test_a_case_in_two_runs_is_judged_twice(tmp_path):
    graphed = Case("lenet", "cuda", 64, "train_step", mode="cudagraph")
    _run(tmp_path, "a.json", [_bench(graphed, 64 / 210_000)])
    _run(tmp_path, "b.json", [_bench(graphed, 64 / 190_000)])
    lines = [line for line in gpu_targets.report(tmp_path).splitlines() if line.startswith("lenet train_step, batch 64")]
    assert len(lines) == 2 and {line.rstrip().split()[-1] for line in lines} == {"met", "MISSED"}


@pytest.mark.parametrize("argv, says", [([], "the following arguments are required: DIR"),
                                        (["/no/such/folder"], "no such folder")])
def test_bad_input_is_one_line_and_exit_2(argv, says, capsys):
    from blitzbench.testing import exit_status

    assert exit_status(command.main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err


def test_a_broken_fidelity_record_is_one_line(tmp_path, capsys):
    _run(tmp_path, "modes.json", [_bench(Case("lenet", "cuda", 64, "train_step", mode="cudagraph"), 1e-4)])
    (tmp_path / "fidelity.json").write_text('{"cases": [{"case": "x-cuda-y"}]}')
    assert command.main([str(tmp_path)]) == 2
    assert "not a fidelity record" in capsys.readouterr().err
