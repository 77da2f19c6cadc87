"""Saved runs: names, atomic writes, nothing half-written; the schema version each run carries,
a run read back as it was written, and older runs upgraded to what a current run holds."""

import copy
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from blitzbench import store
from blitzbench.analysis.saved_runs import collect, load_run
from blitzbench.cases import Case
from blitzbench.kinds import DataLoadingCase, DistributedCase, TimeToAccuracyCase, case_of
from blitzbench.messages import BadInput

RECORDED = Path(__file__).resolve().parent / "data" / "recorded"
OLD_RUN = RECORDED / "h100-machine" / "20261127-171513_torch-2.11.0_cu130_cpu-cuda.json"  # no schema version


def test_run_stem_carries_time_version_and_devices():
    stem = store.run_stem(datetime(2026, 11, 27, 9, 5, 3), "2.14.1+cu130", ["cpu", "cuda"])
    assert stem == "20261127-090503_torch-2.14.1_cu130_cpu-cuda"


def test_save_run_writes_readable_json(tmp_path):
    path = store.save_run({"benchmarks": [], "version": "x"}, tmp_path / "new", "stem")
    assert path == tmp_path / "new" / "stem.json"
    assert json.loads(path.read_text()) == {"benchmarks": [], "version": "x"}
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "run.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise KeyboardInterrupt  # interrupted between writing and renaming

    monkeypatch.setattr(store.os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        store.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


# -- the schema: a run read back as written, older runs upgraded ---------------------------------------

def _stats(median: float, iqr: float) -> dict:
    """pytest-benchmark's statistics of the timed rounds, as it saves them."""
    return {"min": median * 0.9, "max": median * 1.2, "mean": median, "stddev": iqr, "rounds": 20,
            "median": median, "iqr": iqr, "q1": median - iqr / 2, "q3": median + iqr / 2, "iqr_outliers": 0,
            "stddev_outliers": 1, "outliers": "1;0", "ld15iqr": median * 0.9, "hd15iqr": median * 1.2,
            "ops": 1 / median, "total": 20 * median, "iterations": 1}


def _current_run() -> dict:
    """A run of every kind of case, each record as its benchmark in bench/ saves it (the figure and
    the noise computed there), in pytest-benchmark's layout, stamped as the plugin saves it."""
    case = Case("lenet", "cpu", 64, "train_step", mode="compiled")
    median, iqr = 0.004, 0.0002
    throughput = {"kind": case.kind, **case.fields(), "case_id": case.id, "samples_per_s": 64 / median,
                  "noise_iqr_over_median": iqr / median, "gflops_per_s": 1.5, "flops_missing": None,
                  "torch_version": "2.15.0"}
    loading = {"kind": "data_loading", "dataset": "mnist5k", "source": "device_batching", "augment": True,
               "device": "cpu", "images": 1024, "batch_size": 64, "images_per_s": 1024 / 0.02,
               "noise_iqr_over_median": 0.001 / 0.02}
    ddp = {"kind": "distributed", "model": "chapter_net", "backend": "gloo", "world_size": 2, "device": "cpu",
           "global_batch_size": 64, "steps_per_block": 10, "samples_per_s": 640 / 0.05,
           "noise_iqr_over_median": 0.002 / 0.05, "grad_max_rel_err": 1e-7, "param_max_rel_err": 2e-7}
    tta = {"kind": "time_to_accuracy", "model": "chapter_net", "dataset": "mnist5k", "device": "cpu", "loop": "fast",
           "mode": "eager", "target": 0.95, "seconds_to_accuracy": 6.0, "seconds_per_seed": [5.5, 6.0, 7.0]}
    benchmarks = [{"group": None, "name": f"test_{i}", "fullname": f"bench/x.py::test_{i}", "params": None,
                   "param": None, "extra_info": info, "options": {}, "stats": stats}
                  for i, (info, stats) in enumerate([(throughput, _stats(median, iqr)), (loading, _stats(0.02, 0.001)),
                                                     (ddp, _stats(0.05, 0.002)), (tta, _stats(18.0, 0.0))])]
    output = {"machine_info": {"node": "vm", "cpu_model": "x", "torch_version": "2.15.0"}, "commit_info": {},
              "benchmarks": benchmarks, "datetime": "2026-12-02T10:00:00", "version": "5.3.1"}
    return store.stamp(output)


def test_every_run_is_saved_with_the_schema_version():
    run = _current_run()
    assert run["machine_info"]["blitzbench_schema"] == store.SCHEMA_VERSION
    assert store.schema_of(run) == store.SCHEMA_VERSION
    assert store.schema_of({"machine_info": {}, "benchmarks": []}) == 0  # saved before the stamp


def test_a_saved_run_reads_back_as_it_was_written(tmp_path):
    """Schema round trip: saved by the store, read by saved_runs: every field as written, every case
    of every kind keyed by its case, with the figure its benchmark saved."""
    written = _current_run()
    path = store.save_run(copy.deepcopy(written), tmp_path, "run")
    run = load_run(path)
    assert run.machine_info == written["machine_info"] and run.datetime == written["datetime"]
    assert run.benchmarks == written["benchmarks"]  # the current schema is read as it is
    assert json.loads(path.read_text()) == written
    cases = {case_of(b["extra_info"]): b["extra_info"] for b in written["benchmarks"]}
    assert set(run.cases) == set(cases)
    assert [type(c) for c in sorted(run.cases)] == [Case, DataLoadingCase, DistributedCase, TimeToAccuracyCase]
    for case, stats in run.cases.items():
        assert stats.figure == cases[case][case.figure_field] and stats.unit == case.unit
        assert stats.noise == cases[case].get("noise_iqr_over_median")
    assert run.cases[Case("lenet", "cpu", 64, "train_step", mode="compiled")].rate == 64 / 0.004


def test_an_old_recorded_run_is_upgraded_to_what_a_current_run_holds(tmp_path):
    """A run recorded before the schema version (throughput records without a kind, the mode under
    its former name compile_mode) reads as a current run: each record with its kind and current
    fields, the same cases and figures as the same run saved in the current schema."""
    raw = json.loads(OLD_RUN.read_text())
    assert "blitzbench_schema" not in raw["machine_info"]
    assert any("kind" not in b["extra_info"] for b in raw["benchmarks"])
    assert any("compile_mode" in b["extra_info"] for b in raw["benchmarks"])
    old = load_run(OLD_RUN)
    assert old.machine_info["blitzbench_schema"] == store.SCHEMA_VERSION
    for bench in old.benchmarks:
        info = bench["extra_info"]
        assert info["kind"] in ("throughput", "data_loading", "time_to_accuracy") and "compile_mode" not in info
        if info["kind"] == "throughput":
            assert {"mode", "dtype", "memory_format", "samples_per_s", "noise_iqr_over_median"} <= info.keys()
    kinds = {type(case) for case in old.cases}
    assert kinds == {Case, DataLoadingCase, TimeToAccuracyCase}
    # the figures are the recorded ones, unchanged
    recorded = {b["name"]: b["extra_info"] for b in raw["benchmarks"]}
    for bench in old.benchmarks:
        case = case_of(bench["extra_info"])
        if case in old.cases:
            assert old.cases[case].figure == recorded[bench["name"]][case.figure_field]
    # saved again in the current schema, it reads the same
    again = load_run(store.save_run(store.stamp(json.loads(json.dumps({
        "machine_info": old.machine_info, "benchmarks": old.benchmarks, "datetime": old.datetime}))), tmp_path, "again"))
    assert again.cases == old.cases and again.instructions == old.instructions


def test_the_upgrade_derives_a_figure_only_where_an_older_run_did_not_save_it():
    """A figure missing from an older run is computed as its benchmark computes it now (blitzbench.figures);
    a saved figure is kept; a current run is left as it is."""
    raw = json.loads(OLD_RUN.read_text())
    bench = next(b for b in raw["benchmarks"] if b["extra_info"].get("phase") == "forward")
    saved = dict(bench["extra_info"])
    for field in ("samples_per_s", "noise_iqr_over_median"):
        del bench["extra_info"][field]
    upgraded = store.upgrade({"machine_info": {}, "benchmarks": [bench]})["benchmarks"][0]["extra_info"]
    assert upgraded["samples_per_s"] == saved["samples_per_s"]
    assert upgraded["noise_iqr_over_median"] == saved["noise_iqr_over_median"]
    current = _current_run()
    assert store.upgrade(copy.deepcopy(current)) == current


def test_a_run_of_a_newer_schema_is_refused_in_one_line(tmp_path):
    newer = _current_run()
    newer["machine_info"]["blitzbench_schema"] = store.SCHEMA_VERSION + 1
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(newer))
    with pytest.raises(BadInput, match="newer blitzbench") as raised:
        load_run(path)
    assert len(str(raised.value).splitlines()) == 1
    # in a folder, it is skipped with a note, as any file that is not a run this code reads
    store.save_run(_current_run(), tmp_path, "current")
    runs, notes = collect([tmp_path])
    assert len(runs) == 1 and len(notes) == 1 and "newer blitzbench" in notes[0]
