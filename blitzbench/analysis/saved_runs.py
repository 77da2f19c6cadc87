"""Reading saved benchmark runs (pytest-benchmark JSON) back, for the report, and grouping them
into series.

A run is one file, brought to the current schema as it is read (blitzbench.store.upgrade). Each
of its cases is keyed by the case itself (blitzbench.cases, blitzbench.kinds), so that runs from
different torch releases or machines line up: throughput cases by model, phase, device, batch
size, dtype, memory format and execution mode; data-loading cases by dataset, source,
augmentation and device; distributed cases by model, backend, ranks and global batch;
time-to-accuracy cases by model, dataset, device, loop, mode and target, their seeds' median
seconds the figure compared. A case's figure is the one its benchmark saved.

A series is the runs of one setup repeated: the runs a tox environment saved in its folder
(``results/tox/<env>/``), or, in one flat folder, the runs of one torch version, set of devices
and machine. A file named on its own (not found in a named folder) is a series of its own,
unless its blitzbench.matrix record puts it in a series: two runs of one release named one by one
are the two sides of a comparison, not two rounds of one side. ``blitzbench matrix`` records in each run it makes the series (the env), the
round and the matrix it belongs to (``machine_info["blitzbench_matrix"]``), so that rounds can be
paired exactly; runs without that record are paired by time order. Torch-free, so that the report
runs in a small environment.

A run made with ``--instructions`` (a counted run) says so in ``machine_info["instructions"]``; its
times were taken with counting processes about, so a series keeps its counted runs for their
counts and its other runs (timed runs) for time: no counted run enters a time comparison.
A series' machine, for telling machines apart, is its CPU model and GPU.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from blitzbench import counting_isa, store
from blitzbench.cases import DEVICES
from blitzbench.kinds import AnyCase, CaseStats, case_of, case_stats
from blitzbench.messages import BadInput


@dataclass(frozen=True)
class InstructionCount:
    """A case's Callgrind count (blitzbench.measure.instructions): instructions per call, the median over its
    repeats, and their spread ((max - min) / median)."""

    per_call: float
    spread: float


@dataclass
class Run:
    path: Path
    datetime: str
    machine_info: dict
    benchmarks: list[dict]
    cases: dict[AnyCase, CaseStats] = field(default_factory=dict)
    instructions: dict[AnyCase, InstructionCount] = field(default_factory=dict)
    named: bool = False  # named on the command line as a file (not found in a folder)
    root: Path | None = None  # the folder named on the command line that it was found in

    @property
    def counted(self) -> bool:
        """Made with ``--instructions``: its times were taken under counting and compare with nothing."""
        return isinstance(self.machine_info.get("instructions"), dict) or bool(self.instructions)

    @property
    def counting_isa(self) -> str | None:
        """The instruction sets its counted kernels could use (``--counting-isa``,
        blitzbench.counting_isa); None for a run that counted nothing."""
        if not self.counted:
            return None
        return counting_isa.of_record(self.machine_info.get("instructions") or {})

    @property
    def machine_identity(self) -> str:
        """What makes two runs' times comparable as one machine's: the CPU model and the GPU."""
        info = self.machine_info
        cpu = info.get("cpu_model") or (info.get("cpu") or {}).get("brand_raw") or info.get("processor") or "unknown CPU"
        gpu = info.get("gpu_name")
        return f"{cpu}" + (f", {gpu}" if gpu else "")

    @property
    def torch_version(self) -> str:
        return str(self.machine_info.get("torch_version", "unknown"))

    @property
    def devices(self) -> list[str]:
        seen = {b.get("extra_info", {}).get("device") for b in self.benchmarks}
        return [d for d in DEVICES if d in seen]

    @property
    def label(self) -> str:
        return f"torch {self.torch_version} {'+'.join(self.devices)} {self.datetime[:16].replace('T', ' ')}"

    @property
    def matrix_record(self) -> dict:
        """What blitzbench.matrix recorded: {"series", "round", "matrix"}; empty for other runs."""
        record = self.machine_info.get("blitzbench_matrix")
        return record if isinstance(record, dict) else {}

    @property
    def round_key(self) -> tuple | None:
        """(matrix, round) when blitzbench.matrix made this run, else None."""
        record = self.matrix_record
        if record.get("matrix") is None or not isinstance(record.get("round"), int):
            return None
        return (str(record["matrix"]), record["round"])

    @property
    def machine(self) -> str:
        info = self.machine_info
        gpu = info.get("gpu_name")
        return f"{info.get('node', '?')} ({info.get('cpu_model', info.get('processor', '?'))}" + \
               (f", {gpu}" if gpu else "") + ")"


def _instructions(info: dict) -> InstructionCount | None:
    try:
        per_call = float(info["instructions_per_call"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (per_call > 0 and math.isfinite(per_call)):
        return None
    return InstructionCount(per_call, float(info.get("instructions_spread") or 0.0))


def load_run(path: Path) -> Run:
    """One saved run, in the current schema; BadInput when the file is cut short, not JSON, not a
    pytest-benchmark run, or saved in a schema newer than this code reads."""
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
    try:
        data = store.upgrade(data)
    except BadInput as error:
        raise BadInput(f"{path}: {error}") from None
    run = Run(path, str(data.get("datetime", "")), data.get("machine_info") or {}, data["benchmarks"])
    for bench in run.benchmarks:
        case = case_of(bench.get("extra_info") or {})
        stats = case_stats(bench, case) if case else None
        if stats:
            run.cases[case] = stats
        count = _instructions(bench.get("extra_info") or {}) if case else None
        if count:
            run.instructions[case] = count
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
            run = load_run(path)
            run.named = True
            runs.append(run)
            continue
        files = sorted(p for p in path.rglob("*.json") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise BadInput(f"{path}: holds no .json files (saved runs are pytest-benchmark JSON)")
        found = 0
        for file in files:
            try:
                run = load_run(file)
                run.root = path
                runs.append(run)
                found += 1
            except BadInput as error:
                if "cut short" in str(error):
                    raise
                notes.append(f"skipped {error}")
        if not found:
            raise BadInput(f"{path}: holds no pytest-benchmark run with blitzbench cases")
    return runs, notes


@dataclass
class Series:
    """The runs of one setup, oldest first."""

    name: str  # the tox env blitzbench.matrix recorded, or the folder the runs sit in
    torch_version: str
    devices: tuple[str, ...]
    machine: str
    runs: list[Run]
    label: str = ""

    @property
    def first_datetime(self) -> str:
        return self.runs[0].datetime

    @property
    def timed_runs(self) -> list[Run]:
        """The runs whose times compare (not made with ``--instructions``)."""
        return [r for r in self.runs if not r.counted]

    @property
    def counted_runs(self) -> list[Run]:
        return [r for r in self.runs if r.counted]

    @property
    def machine_identity(self) -> str:
        return self.runs[0].machine_identity

    @property
    def folder(self) -> Path:
        return self.runs[0].path.parent

    @property
    def folders(self) -> list[Path]:
        """Every folder its runs sit in (a tox env's timed and counted runs may sit in two)."""
        return list(dict.fromkeys(r.path.parent for r in self.runs))


def group_series(runs: list[Run]) -> list[Series]:
    """Runs grouped into series: by the series blitzbench.matrix recorded, else a file named on its
    own by itself, else the runs straight in a folder named on the command line (named by their
    release when one folder is named, by the folder when several are), else by the name of the
    folder they sit in (so ``results/tox/torch24`` and ``results/tox/instructions/torch24``
    are one series); within that by torch version, devices and machine. Series in release order,
    and of one release in order of their first run."""
    groups: dict[tuple, list[Run]] = {}
    # Folders named on the command line: one (``results``) is named by its releases; several are
    # the sides of a comparison, named by their folders.
    named_folders = {run.root.resolve() for run in runs if run.root is not None
                     and run.path.parent.resolve() == run.root.resolve() and not run.matrix_record.get("series")}
    for run in runs:
        recorded = run.matrix_record.get("series")
        if recorded:
            name = str(recorded)
        elif run.named:
            name = str(run.path.resolve())
        elif run.root is not None and run.path.parent.resolve() == run.root.resolve():
            # runs straight in a folder named on the command line
            name = (NAMED_FOLDER if len(named_folders) == 1 else "") + str(run.root.resolve())
        else:
            name = run.path.parent.name  # a tox env's folder, wherever it sits (timed and counted runs meet)
        groups.setdefault((name, run.torch_version, tuple(run.devices), run.machine), []).append(run)
    series = [Series(_series_name(name) or f"torch {version} {'+'.join(devices)}".strip(), version, devices, machine,
                     sorted(members, key=lambda r: r.datetime))
              for (name, version, devices, machine), members in groups.items()]
    series.sort(key=lambda s: (release_order(s.torch_version), s.first_datetime))
    _label(series)
    return series


NAMED_FOLDER = "\0"


def release_order(version: str) -> tuple[int, ...]:
    """A torch version as numbers for ordering ("2.14.1+cu130" -> (2, 14, 1)); an unknown version
    sorts after every known one."""
    numbers = []
    for part in version.split("+", 1)[0].split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers) or (1 << 30,)


def _series_name(name: str) -> str:
    """A folder's or a named file's name (a file's without .json); a recorded series as it is;
    empty for runs straight in a folder named on the command line (they are named by release)."""
    if name.startswith(NAMED_FOLDER):
        return ""
    if "/" not in name:
        return name
    path = Path(name)
    return path.stem if path.suffix == ".json" else path.name


def _label(series: list[Series]) -> None:
    """Labels that tell the series apart: "torch24: torch 2.4.1", or "torch 2.14.1 cpu" when
    there is one folder; the machine's name is added where that is still ambiguous."""
    folders = {s.name for s in series}
    for s in series:
        version = f"torch {s.torch_version} {'+'.join(s.devices)}".strip()
        if s.name == version:
            s.label = version
        elif len(folders) > 1 and s.torch_version.split("+")[0] in s.name:
            s.label = s.name  # a saved run's file name: it names the version already
        else:
            s.label = f"{s.name}: {version}" if len(folders) > 1 else version
    labels = [s.label for s in series]
    for s in series:
        if labels.count(s.label) > 1:
            s.label += f" on {s.machine}"
    # Runs named one by one whose file names (started in the same second) and machine are the
    # same: their folders tell them apart.
    labels = [s.label for s in series]
    for s in series:
        if labels.count(s.label) > 1:
            s.name, s.label = f"{s.folder.name}/{s.name}", f"{s.folder.name}/{s.label}"


def pair_runs(base: Series, other: Series) -> list[tuple[Run, Run]]:
    """(baseline run, other run) per round, timed runs only: by blitzbench.matrix's (matrix, round)
    record when every timed run of both series has a distinct one and they share rounds, else by
    time order, as many pairs as the shorter series has timed runs."""
    def by_round(series: Series) -> dict | None:
        keys = [run.round_key for run in series.timed_runs]
        if None in keys or len(set(keys)) != len(keys):
            return None
        return dict(zip(keys, series.timed_runs))

    base_rounds, other_rounds = by_round(base), by_round(other)
    if base_rounds is not None and other_rounds is not None:
        common = sorted(base_rounds.keys() & other_rounds.keys())
        if common:
            return [(base_rounds[k], other_rounds[k]) for k in common]
    return list(zip(base.timed_runs, other.timed_runs))
