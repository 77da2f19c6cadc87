"""Saved benchmark runs: one pytest-benchmark JSON file per run, written atomically, stamped with
the schema it follows, and upgraded to the current schema when an older one is read.

File names carry when the run started, the torch version and the devices that ran, e.g.
``20261127-163012_torch-2.14.1_cu130_cpu.json``; the end-of-run table is saved beside it with
the same stem and ``.md``. Files are written to a temporary name in the same folder and
renamed, so an interrupted run leaves no half-written file behind.

Schema (as asv's results files carry an ``api_version`` that its ``update`` function brings up
to date): a run records the version of its layout in ``machine_info["blitzbench_schema"]``
(:func:`stamp`; pytest-benchmark keeps machine_info as it is, so ``pytest-benchmark compare``
still reads the run). Runs saved before the stamp are version 0. :func:`upgrade` turns a run of
any older version into the current one, one step per version, so that everything that reads runs
(blitzbench.analysis.saved_runs) knows the current layout only. What each version is:

  0  no stamp. A record's kind is recorded only for the kinds after the first (a throughput case
     is told by its phase); the execution mode is ``compile_mode`` in the oldest runs, and dtype
     and memory format may be absent (the defaults); the distributed errors are
     ``grad_max_abs_err`` / ``param_max_abs_err`` (renamed ``*_rel_err`` for what they always
     were: relative to max(1, largest magnitude)); data-loading and distributed records have no
     saved noise; a missing GFLOP/s figure may have no recorded reason.
  1  every record has ``kind`` and every field its case type reads (blitzbench.kinds); every timed
     record its figure (``samples_per_s``, ``images_per_s``, ``seconds_to_accuracy``) and, but
     for time to accuracy, its noise (``noise_iqr_over_median``), as measured; a missing GFLOP/s
     figure its reason (``flops_missing``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path

from blitzbench.cases import DEFAULTS
from blitzbench.figures import STEP_HAS_NO_FLOPS, iqr_over_median, per_second
from blitzbench.messages import BadInput

SCHEMA_VERSION = 1
SCHEMA_FIELD = "blitzbench_schema"  # in machine_info


def run_stem(started: datetime, torch_version: str, devices) -> str:
    version = re.sub(r"[^A-Za-z0-9._-]", "_", torch_version)  # "+" -> "_": portable names
    return f"{started:%Y%m%d-%H%M%S}_torch-{version}_{'-'.join(devices) or 'none'}"


def write_atomic(path: Path, text: str | bytes) -> Path:
    """Write ``text`` (or bytes) to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        with (os.fdopen(fd, "wb") if isinstance(text, bytes) else os.fdopen(fd, "w", encoding="utf-8")) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def save_run(output_json: dict, results_dir: Path, stem: str) -> Path:
    """Save a run in pytest-benchmark's JSON format as ``results_dir/stem.json``."""
    text = json.dumps(output_json, indent=2, ensure_ascii=True, default=str)
    return write_atomic(Path(results_dir) / f"{stem}.json", text + "\n")


# -- the schema --------------------------------------------------------------------------------------

INFERENCE_FLOPS_BEFORE_2_6 = ("torch 2.4.1's FlopCounterMode counts nothing under torch.inference_mode() "
                              "(pytorch/pytorch#126268; counted on 2.6.0), and runs saved before the suite counted "
                              "the inference phase under no_grad have no FLOPs for it")
NO_FLOPS_RECORDED = "no FLOPs recorded for this case"


def stamp(output_json: dict) -> dict:
    """Record the schema a run is saved in (``machine_info["blitzbench_schema"]``); the run itself."""
    output_json.setdefault("machine_info", {})[SCHEMA_FIELD] = SCHEMA_VERSION
    return output_json


def schema_of(data: dict) -> int:
    """A run's schema version (0 before runs were stamped); BadInput for one this code cannot read."""
    version = (data.get("machine_info") or {}).get(SCHEMA_FIELD, 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise BadInput(f"machine_info.{SCHEMA_FIELD} is {version!r}; accepted: a whole number up to {SCHEMA_VERSION}")
    if version > SCHEMA_VERSION:
        raise BadInput(f"saved in schema {version} by a newer blitzbench; this one reads schemas up to "
                       f"{SCHEMA_VERSION}")
    return version


def upgrade(data: dict) -> dict:
    """A saved run (pytest-benchmark JSON, parsed) in the current schema, changed in place and
    returned; a run in the current schema is returned as it is. BadInput for a newer schema."""
    for version in range(schema_of(data), SCHEMA_VERSION):
        for bench in data.get("benchmarks") or []:
            if isinstance(bench, dict) and isinstance(bench.get("extra_info"), dict):
                _UPGRADES[version](bench["extra_info"], bench.get("stats") or {})
        if not isinstance(data.get("machine_info"), dict):
            data["machine_info"] = {}
        data["machine_info"][SCHEMA_FIELD] = version + 1
    return data


def _timed(stats: dict) -> tuple[float | None, float | None]:
    """pytest-benchmark's median and IQR of the timed rounds (IQR from the quartiles where only
    they were kept); (None, None) for an untimed record."""
    median = stats.get("median")
    if not isinstance(median, (int, float)) or not median > 0:
        return None, None
    iqr = stats.get("iqr")
    if iqr is None and stats.get("q1") is not None and stats.get("q3") is not None:
        iqr = stats["q3"] - stats["q1"]
    return median, iqr


def _figure_and_noise(info: dict, stats: dict, field: str, units_per_call: float) -> None:
    """The figure and the noise as the benchmark computes them now, where it did not save them."""
    median, iqr = _timed(stats)
    if median is None:
        return
    if info.get(field) is None:
        info[field] = per_second(units_per_call, median)
    if info.get("noise_iqr_over_median") is None:
        info["noise_iqr_over_median"] = iqr_over_median(iqr, median)


def _flops_missing(info: dict) -> str:
    """Why a throughput record saved before reasons were recorded has no GFLOP/s: the known reasons."""
    if info.get("phase") == "step":
        return STEP_HAS_NO_FLOPS
    if info.get("phase") == "inference" and str(info.get("torch_version", "")).startswith("2.4."):
        return INFERENCE_FLOPS_BEFORE_2_6
    return NO_FLOPS_RECORDED


def _throughput_to_1(info: dict, stats: dict) -> None:
    if not info.get("mode"):
        info["mode"] = info.get("compile_mode") or DEFAULTS["mode"]
    info.pop("compile_mode", None)
    for axis in ("dtype", "memory_format"):
        info[axis] = info.get(axis) or DEFAULTS[axis]
    if "batch_size" in info:
        _figure_and_noise(info, stats, "samples_per_s", float(info["batch_size"]))
    if info.get("gflops_per_s") is None and info.get("samples_per_s") is not None and not info.get("flops_missing"):
        info["flops_missing"] = _flops_missing(info)


def _data_loading_to_1(info: dict, stats: dict) -> None:
    _figure_and_noise(info, stats, "images_per_s", float(info.get("images", 1)))


def _distributed_to_1(info: dict, stats: dict) -> None:
    for name in ("grad_max", "param_max"):
        if f"{name}_abs_err" in info:
            info.setdefault(f"{name}_rel_err", info.pop(f"{name}_abs_err"))
    if "global_batch_size" in info and "steps_per_block" in info:
        _figure_and_noise(info, stats, "samples_per_s",
                          float(info["global_batch_size"]) * float(info["steps_per_block"]))


def _time_to_accuracy_to_1(info: dict, stats: dict) -> None:
    info["mode"] = info.get("mode") or DEFAULTS["mode"]


_RECORDS_TO_1 = {"throughput": _throughput_to_1, "data_loading": _data_loading_to_1,
                 "distributed": _distributed_to_1, "time_to_accuracy": _time_to_accuracy_to_1}


def _record_to_1(info: dict, stats: dict) -> None:
    """Schema 0 -> 1: the kind recorded (a throughput case told by its phase), then each kind's fields."""
    if "kind" not in info and "phase" in info:
        info["kind"] = "throughput"
    upgrade_kind = _RECORDS_TO_1.get(info.get("kind"))
    if upgrade_kind:
        upgrade_kind(info, stats)


_UPGRADES = [_record_to_1]  # _UPGRADES[v]: one record from schema v to v + 1
