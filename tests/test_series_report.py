"""The report over series of interleaved runs: grouping, pairing, intervals, verdicts, exports.

Synthetic saved runs stand in for the machine where the statistics are the point (an A/A pair
with a drifting round and a case that is bimodal by process, a planted 15% slowdown); the runs
recorded on this project's machine (tests/data/recorded/, see its README) check the report
against what was measured there.
"""

import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from blitzbench.cli import report
from blitzbench.store import SCHEMA_FIELD, SCHEMA_VERSION
from blitzbench.cases import Case
from blitzbench.analysis.saved_runs import collect, group_series, pair_runs

RECORDED = Path(__file__).resolve().parent / "data" / "recorded"
CASES = [Case(model, "cpu", bs, phase) for model in ("chapter_net", "lenet", "cifar_net")
         for phase in ("forward", "backward", "train_step") for bs in (4, 64)]
BIMODAL = Case("lenet", "cpu", 64, "train_step")  # as recorded: a process runs it at ~4.5 or ~7 ms
SERIES = ("A", "A2", "B")


def _bench(case: Case, median_s: float) -> dict:
    return {"name": f"test_throughput[{case.id}]", "group": None,
            "stats": {"median": median_s, "q1": median_s * 0.99, "q3": median_s * 1.01, "iqr": median_s * 0.02,
                      "min": median_s * 0.97, "max": median_s * 1.05, "mean": median_s, "rounds": 50},
            # as the suite saves a case: its kind and its figures beside its fields
            "extra_info": {**case.fields(), "kind": "throughput", "case_id": case.id,
                           "samples_per_s": case.batch_size / median_s, "noise_iqr_over_median": 0.02}}


def write_matrix(root: Path, rounds: int, slowdown: dict, drift: dict, seed: int = 0, record_rounds: bool = True):
    """Saved runs of the series A, A2, B over ``rounds`` interleaved rounds (A A2 B / B A2 A / ...).

    Each run's median per case: the case's own time, x the series' planted ``slowdown``, x the
    machine's slow drift across rounds (common to the round), x a one-off ``drift`` of one run
    ({(series, round): factor}), x 2% noise; the bimodal case draws its mode per run.
    """
    rng = random.Random(seed)
    clock = datetime(2026, 11, 28, 1, 0, 0)
    for r in range(1, rounds + 1):
        machine = 1 + 0.03 * math.sin(r)  # the round's own speed, shared by its runs
        for series in (SERIES if r % 2 else SERIES[::-1]):
            factor = slowdown.get(series, 1.0) * machine * drift.get((series, r), 1.0)
            benches = []
            for i, case in enumerate(CASES):
                base = (rng.choice((4.5e-3, 7.0e-3)) if case == BIMODAL else 1e-3 * (1 + 0.2 * i))
                benches.append(_bench(case, base * factor * math.exp(rng.gauss(0, 0.02))))
            info = {"torch_version": "2.14.1", "node": "vm", "cpu_model": "x", SCHEMA_FIELD: SCHEMA_VERSION}
            if record_rounds:
                info["blitzbench_matrix"] = {"series": series, "round": r, "matrix": "m1"}
            clock += timedelta(seconds=40)
            folder = root / series
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{clock:%Y%m%d-%H%M%S}_torch-2.14.1_cpu.json").write_text(json.dumps(
                {"machine_info": info, "benchmarks": benches, "datetime": clock.isoformat(), "version": "5.3.1"}))
    return root


def run_report(capsys, tmp_path, *args) -> dict:
    out = tmp_path / "out.json"
    status = report.main([*map(str, args), "--json", str(out)])
    capsys.readouterr()
    assert status == 0
    return json.loads(out.read_text())


def verdicts(saved: dict, series: str) -> dict[str, str]:
    return {r["case"]: r["verdict"] for r in saved["records"] if r["series"] == series}


def summary(saved: dict, series: str) -> dict:
    return next(s for s in saved["series"] if s["series"] == series)


# -- the verdict rule (docs/releases.md): an A/A pair gets no call; a planted 15% slowdown is slower -

@pytest.mark.parametrize("drifting", SERIES)
def test_an_aa_pair_gets_no_faster_or_slower_call_under_drift_and_a_bimodal_case(tmp_path, capsys, drifting):
    root = write_matrix(tmp_path / "runs", 6, slowdown={"B": 1.15}, drift={(drifting, 4): 1.25})
    saved = run_report(capsys, tmp_path, root, "--baseline", "A")
    aa = verdicts(saved, "A2")
    assert len(aa) == len(CASES)
    assert not {case for case, v in aa.items() if v in ("faster", "slower")}, aa
    assert summary(saved, "A2")["verdict"] not in ("faster", "slower")
    assert all(r["rounds"] == 6 and r["coverage"] == pytest.approx(1 - 2 / 64)
               for r in saved["records"] if r["series"] == "A2")


@pytest.mark.parametrize("drifting", ["A2", "B"])
def test_a_planted_15_percent_slowdown_is_called_slower_in_nearly_every_case(tmp_path, capsys, drifting):
    root = write_matrix(tmp_path / "runs", 6, slowdown={"B": 1.15}, drift={(drifting, 4): 1.25})
    saved = run_report(capsys, tmp_path, root, "--baseline", "A")
    b = verdicts(saved, "B")
    steady = {c.id for c in CASES if c != BIMODAL}
    called = {case for case in steady if b[case] == "slower"}
    assert len(called) >= len(steady) - 2, sorted(steady - called)  # nearly every: noise may leave one or two unclear
    assert not {case for case, v in b.items() if v in ("faster", "same")}
    assert b[BIMODAL.id] in ("slower", "unclear")  # its modes swamp 15% at 6 rounds
    assert summary(saved, "B")["verdict"] == "slower"
    ratios = [r["ratio"] for r in saved["records"] if r["series"] == "B" and r["case"] in steady]
    assert all(0.82 < x < 0.92 for x in ratios), ratios  # 1 / 1.15 = 0.87, with 2% noise


def test_a_drifting_baseline_round_needs_nine_rounds_for_the_call(tmp_path, capsys):
    """At 6 rounds the interval is min..max, so one round where the baseline ran 25% slow makes
    the 15% slowdown unclear (never 'faster'); 9 rounds drop one extreme and call it."""
    six = run_report(capsys, tmp_path, write_matrix(tmp_path / "six", 6, {"B": 1.15}, {("A", 4): 1.25}),
                     "--baseline", "A")
    assert set(verdicts(six, "B").values()) == {"unclear"}
    nine = run_report(capsys, tmp_path, write_matrix(tmp_path / "nine", 9, {"B": 1.15}, {("A", 4): 1.25}),
                      "--baseline", "A")
    steady = {c.id for c in CASES if c != BIMODAL}
    called = {case for case, v in verdicts(nine, "B").items() if v == "slower"}
    assert len(called & steady) >= len(steady) - 2, sorted(steady - called)


def test_fail_on_regression_reads_the_ratio_of_medians(tmp_path, capsys):
    root = write_matrix(tmp_path / "runs", 6, slowdown={"B": 1.15}, drift={})
    assert report.main([str(root), "--baseline", "A", "--fail-on-regression", "5"]) == 1
    err = capsys.readouterr().err
    assert "(B: torch 2.14.1 cpu)" in err and "verdict: slower" in err
    # The planted slowdown is about 15% (the ratio of medians): above 20% only in the case that is
    # bimodal by process, whose medians' ratio follows the modes drawn; its verdict is unclear.
    assert report.main([str(root), "--baseline", "A", "--fail-on-regression", "20"]) == 1
    named = [line for line in capsys.readouterr().err.replace("\n      ", " ").splitlines() if line.startswith("  ")]
    assert named and all(line.startswith(f"  {BIMODAL.id} ") and "verdict is unclear" in line for line in named)


# -- grouping and pairing -----------------------------------------------------------------------------

def test_rounds_pair_by_the_matrix_record_else_by_time_order(tmp_path):
    recorded = group_series(collect([write_matrix(tmp_path / "rec", 4, {}, {})])[0])
    plain = group_series(collect([write_matrix(tmp_path / "plain", 4, {}, {}, record_rounds=False)])[0])
    by_name = {s.name: s for s in recorded}
    pairs = pair_runs(by_name["A"], by_name["B"])
    assert [(a.round_key, b.round_key) for a, b in pairs] == [(("m1", r), ("m1", r)) for r in range(1, 5)]
    by_name = {s.name: s for s in plain}
    pairs = pair_runs(by_name["A"], by_name["B"])
    assert all(a.round_key is None for a, _ in pairs) and len(pairs) == 4
    # time order pairs the same runs the rounds do: each pair's files come from one round
    assert all(abs(datetime.fromisoformat(a.datetime) - datetime.fromisoformat(b.datetime)) < timedelta(minutes=2)
               for a, b in pairs)


def test_series_are_folders_and_in_a_flat_folder_torch_versions(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, version in enumerate(("2.11.0", "2.11.0", "2.14.1")):
        info = {"torch_version": version, "node": "vm", "cpu_model": "x"}
        (flat / f"{i}.json").write_text(json.dumps({"machine_info": info, "datetime": f"2026-11-28T0{i}:00:00",
                                                    "benchmarks": [_bench(CASES[0], 1e-3)]}))
    series = group_series(collect([flat])[0])
    assert [(s.torch_version, len(s.runs)) for s in series] == [("2.11.0", 2), ("2.14.1", 1)]
    assert [s.label for s in series] == ["torch 2.11.0 cpu", "torch 2.14.1 cpu"]
    folders = group_series(collect([write_matrix(tmp_path / "m", 2, {}, {}, record_rounds=False)])[0])
    assert sorted((s.name, len(s.runs)) for s in folders) == [("A", 2), ("A2", 2), ("B", 2)]


def test_a_single_run_series_is_unclear_with_its_ratio_shown(tmp_path, capsys):
    root = write_matrix(tmp_path / "runs", 1, slowdown={"B": 1.3}, drift={})
    status = report.main([str(root), "--baseline", "A", "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert status == 0 and "unclear (1 run)" in out
    saved = json.loads((tmp_path / "r.json").read_text())
    b = [r for r in saved["records"] if r["series"] == "B"]
    assert {r["method"] for r in b} == {"single run"} and {r["ci_low"] for r in b} == {None}
    assert {r["verdict"] for r in b} == {"unclear (1 run)"}
    assert sum(r["ratio"] < 0.85 for r in b) >= len(CASES) - 1  # the planted 30% shows in the ratio


def test_exports_carry_the_interval(tmp_path, capsys):
    root = write_matrix(tmp_path / "runs", 6, slowdown={"B": 1.15}, drift={})
    args = [str(root), "--baseline", "A", "--csv", str(tmp_path / "r.csv"), "--markdown", str(tmp_path / "r.md"),
            "--plot", str(tmp_path / "r.png"), "--json", str(tmp_path / "r.json")]
    assert report.main(args) == 0
    capsys.readouterr()
    saved = json.loads((tmp_path / "r.json").read_text())
    record = next(r for r in saved["records"] if r["series"] == "B")
    assert {"ratio", "ci_low", "ci_high", "verdict", "rounds", "coverage", "ratios"} <= record.keys()
    assert record["ci_low"] <= record["ratio"] <= record["ci_high"] and len(record["ratios"]) == 6
    series_b = summary(saved, "B")
    assert {"ratio", "ci_low", "ci_high", "verdict", "rounds"} <= series_b.keys() and series_b["rounds"] == 6
    csv_header = (tmp_path / "r.csv").read_text().splitlines()[0].split(",")
    assert {"ratio", "ci_low", "ci_high", "verdict", "rounds"} <= set(csv_header)
    md = (tmp_path / "r.md").read_text()
    assert f"{record['ratio']:.2f} [{record['ci_low']:.2f}, {record['ci_high']:.2f}]" in md
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


# -- the runs recorded on this machine ----------------------------------------------------------------

def test_recorded_211_vs_214_four_rounds_call_nothing_and_show_the_drifting_round(tmp_path, capsys):
    saved = run_report(capsys, tmp_path, RECORDED / "torch-2.11-vs-2.14-interleaved", "--baseline", "torch211")
    per_case = [r for r in saved["records"] if r["series"] == "torch214"]
    assert len(per_case) == 18 and {r["verdict"] for r in per_case} == {"unclear (4 runs)"}
    assert all(r["coverage"] == pytest.approx(0.875) for r in per_case)  # 1 - 2 / 2**4
    s = summary(saved, "torch214")
    # The README of the recording: per-round geometric means of 2.14 / 2.11 were 0.96, 1.00, 1.01, 1.31.
    assert s["ci_low"] == pytest.approx(0.96, abs=0.005) and s["ci_high"] == pytest.approx(1.31, abs=0.005)
    assert s["ratio"] == pytest.approx((1.00 + 1.01) / 2, abs=0.01) and s["verdict"] == "unclear (4 runs)"


def test_recorded_aa_and_planted_15_percent(tmp_path, capsys):
    saved = run_report(capsys, tmp_path, RECORDED / "same-release-aa-and-planted-15pct", "--baseline", "A")
    assert {r["verdict"] for r in saved["records"] if not r["baseline"]} == {"unclear (4 runs)"}  # no call
    bimodal = Case("lenet", "cpu", 64, "train_step").id
    b = {r["case"]: r["ratio"] for r in saved["records"] if r["series"] == "B"}
    aa = {r["case"]: r["ratio"] for r in saved["records"] if r["series"] == "A2"}
    steady = [c for c in b if c != bimodal]
    assert all(0.80 < b[c] < 0.92 for c in steady), b  # planted: each call 15% longer
    assert all(0.94 < aa[c] < 1.06 for c in steady), aa
    assert aa[bimodal] > 1.3  # A drew the slow mode in three of four runs
