"""Saving runs: names, atomic writes, nothing half-written."""

import json
import os
from datetime import datetime

import pytest

from blitzbench.analysis import results_store


def test_run_stem_carries_time_version_and_devices():
    stem = results_store.run_stem(datetime(2026, 11, 27, 9, 5, 3), "2.14.1+cu130", ["cpu", "cuda"])
    assert stem == "20261127-090503_torch-2.14.1_cu130_cpu-cuda"


def test_save_run_writes_readable_json(tmp_path):
    path = results_store.save_run({"benchmarks": [], "version": "x"}, tmp_path / "new", "stem")
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

    monkeypatch.setattr(results_store.os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        results_store.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]
