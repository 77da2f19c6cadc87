"""Reading saved benchmark runs (pytest-benchmark JSON) back, for the report.

A run is one file. Each of its cases is keyed by what identifies it across runs, so that runs
from different torch releases or machines line up: throughput cases by model, phase, device,
batch size, dtype, memory format and compile mode; data-loading cases by dataset, source,
augmentation and device; distributed cases by model, backend, ranks and global batch. Time-to-accuracy cases are single measurements and are not compared.
Torch-free, so that the report runs in a small environment.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path


class BadInput(Exception):
    """A path or file the report cannot use; the message is one line naming it."""


@dataclass(frozen=True)
class CaseStats:
    median_s: float
    q1_s: float
    q3_s: float
    units_per_call: float  # samples (or images) per timed call
    unit: str

    @property
    def rate(self) -> float:
        return self.units_per_call / self.median_s


@dataclass
class Run:
    path: Path
    datetime: str
    machine_info: dict
    benchmarks: list[dict]
    cases: dict[tuple, CaseStats] = field(default_factory=dict)

    @property
    def torch_version(self) -> str:
        return str(self.machine_info.get("torch_version", "unknown"))

    @property
    def devices(self) -> list[str]:
        seen = {b.get("extra_info", {}).get("device") for b in self.benchmarks}
        return [d for d in ("cpu", "cuda") if d in seen]

    @property
    def label(self) -> str:
        return f"torch {self.torch_version} {'+'.join(self.devices)} {self.datetime[:16].replace('T', ' ')}"

    @property
    def machine(self) -> str:
        info = self.machine_info
        gpu = info.get("gpu_name")
        return f"{info.get('node', '?')} ({info.get('cpu_model', info.get('processor', '?'))}" + \
               (f", {gpu}" if gpu else "") + ")"


def case_key(info: dict) -> tuple | None:
    kind = info.get("kind", "throughput" if "phase" in info else None)
    if kind == "throughput" and {"model", "phase", "device", "batch_size"} <= info.keys():
        return ("throughput", info["model"], info["phase"], info["device"], int(info["batch_size"]),
                info.get("dtype", "float32"), info.get("memory_format", "contiguous"),
                info.get("compile_mode", "eager"))
    if kind == "data_loading":
        return ("data_loading", info["dataset"], info["source"], bool(info["augment"]), info["device"])
    if kind == "distributed":
        return ("distributed", info["model"], info["backend"], int(info["world_size"]), int(info["global_batch_size"]))
    return None


def case_name(key: tuple) -> str:
    if key[0] == "throughput":
        _, model, phase, device, bs, dtype, memory_format, compile_mode = key
        extra = [v for v, d in ((dtype, "float32"), (memory_format, "contiguous"), (compile_mode, "eager")) if v != d]
        return "-".join([model, device, f"bs{bs}", phase, *extra])
    if key[0] == "distributed":
        _, model, backend, world_size, global_batch = key
        return f"{model}-{backend}-{world_size}ranks-bs{global_batch}-ddp_train_step"
    _, dataset, source, augment, device = key
    return f"{dataset}-{device}-{source}-{'augmented' if augment else 'plain'}"


def _stats(bench: dict, key: tuple) -> CaseStats | None:
    stats = bench.get("stats") or {}
    try:
        median, q1, q3 = float(stats["median"]), float(stats["q1"]), float(stats["q3"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (median > 0 and math.isfinite(median)):
        return None
    info = bench["extra_info"]
    if key[0] == "throughput":
        return CaseStats(median, q1, q3, float(info["batch_size"]), "samples/s")
    if key[0] == "distributed":
        return CaseStats(median, q1, q3, float(info["global_batch_size"]) * float(info["steps_per_block"]), "samples/s")
    return CaseStats(median, q1, q3, float(info.get("images", 1)), "images/s")


def load_run(path: Path) -> Run:
    """One saved run; BadInput when the file is cut short, not JSON, or not a pytest-benchmark run."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BadInput(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInput(f"{path}: cut short or not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list) or "machine_info" not in data:
        raise BadInput(f"{path}: not a pytest-benchmark run (no 'benchmarks' list and 'machine_info')")
    run = Run(path, str(data.get("datetime", "")), data.get("machine_info") or {}, data["benchmarks"])
    for bench in run.benchmarks:
        key = case_key(bench.get("extra_info") or {})
        stats = _stats(bench, key) if key else None
        if stats:
            run.cases[key] = stats
    if not run.cases:
        raise BadInput(f"{path}: a pytest-benchmark run with no blitzbench case in it")
    return run


def collect(paths: list[Path]) -> tuple[list[Run], list[str]]:
    """Runs from files and folders (searched recursively for *.json); notes on what was skipped.

    A file named on the command line must be a run; in a folder, JSON files that are not
    pytest-benchmark runs (fidelity records, say) are skipped with a note, but a run file that is
    cut short is an error.
    """
    runs, notes = [], []
    for path in paths:
        if not path.exists():
            raise BadInput(f"{path}: no such file or folder")
        if path.is_file():
            runs.append(load_run(path))
            continue
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            raise BadInput(f"{path}: holds no .json files (saved runs are pytest-benchmark JSON)")
        found = 0
        for file in files:
            try:
                runs.append(load_run(file))
                found += 1
            except BadInput as error:
                if "cut short" in str(error):
                    raise
                notes.append(f"skipped {error}")
        if not found:
            raise BadInput(f"{path}: holds no pytest-benchmark run with blitzbench cases")
    return runs, notes
