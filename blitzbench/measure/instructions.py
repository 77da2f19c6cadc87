"""Instructions per call of each CPU benchmark case (``--instructions``): Callgrind's ``Ir``.

Wall-clock time on a shared machine drifts by 10-30% between runs; the number of instructions a
call executes does not (repeats agree to about 0.1%), so one counted run per release can say
whether a release made a case do more work. Counts are not time: cache misses, SIMD width,
memory bandwidth and system calls do not show in them (docs/benchmarks.md, "Instruction counts").

How a run counts (as PyTorch's ``benchmarks/instruction_counts`` and the Timer's
``collect_callgrind``: count around the measured calls only, in a fixed environment):

* After the timed cases, one more pytest process runs the CPU cases that were timed, under
  ``valgrind --tool=callgrind --instr-atstart=no`` (:func:`blitzbench.measure.callgrind.command`), with one
  intra-op thread, address-space randomisation off, ``PYTHONHASHSEED=0`` and oneDNN's and MKL's
  instruction sets as ``--counting-isa`` says (blitzbench.counting_isa: AVX without FMA by default). Importing torch,
  collecting, building and checking each case and its warm-up calls run uninstrumented.
* Per case (:func:`count_case`): the case's warm-up calls, then a baseline block (the same loop
  with a call that does nothing, to subtract the loop's and the client requests' own cost), then
  ``REPEATS`` blocks of a few calls (:func:`calls_per_repeat`), each with instrumentation on and collection
  switched on around each call only (the backward phase's fresh graph is built outside it), each
  written out as its own dump.
* The timing run reads the dumps (:func:`summarize`): instructions per call = (block - baseline)
  / calls, the median over repeats, their spread = (max - min) / median; and, for
  ``blitzbench report --explain``, each function's exclusive and inclusive count per call in the
  median repeat, kept beside the saved run (:func:`save_profiles_beside`).
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from blitzbench import counting_isa
from blitzbench.measure import callgrind
from blitzbench.store import write_atomic

REPEATS = 3
# Calls per repeat: as many as fit in about BLOCK_SECONDS of the case's timed median (natively),
# from 1 to MAX_CALLS_PER_REPEAT. Counts of a batch-64 call repeat to 0.01%, so one call is enough
# there; small calls get a few, to average the allocator's occasional extra work.
MAX_CALLS_PER_REPEAT = 4
BLOCK_SECONDS = 0.003
MANIFEST = "manifest.jsonl"
PLAN = "plan.json"
OUT_NAME = "callgrind.out"
# A function is kept in the saved profile when it has at least this share of the case's
# instructions, exclusive or inclusive: enough to explain a change of a tenth of a percent.
PROFILE_SHARE = 1e-4
PROFILE_SUFFIX = ".callgrind.json.gz"
COUNTED_MODES = ("eager", "compiled")  # the modes that run on the CPU



# -- inside the counting process (under valgrind) -------------------------------------------------

class Counter:
    """The counting process's side: client requests, dump numbering and the manifest it writes."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.requests = callgrind.ClientRequests()
        if not self.requests.running_on_valgrind:
            raise RuntimeError("--instructions-worker runs under valgrind (blitzbench.measure.callgrind.command); "
                               "use --instructions instead")
        self.parts = 0
        plan = self.out_dir / PLAN
        self.plan = json.loads(plan.read_text(encoding="utf-8")) if plan.exists() else {}

    def _block(self, name: str, call, setup, calls: int) -> int:
        """``calls`` calls with collection on around each; returns the dump's part number."""
        r = self.requests
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            r.zero_stats()
            for _ in range(calls):
                args = setup() if setup is not None else ()
                r.toggle_collect()
                call(*args)
                r.toggle_collect()
            r.dump_stats_at(name)
        finally:
            if gc_was_on:
                gc.enable()
        self.parts += 1
        return self.parts

    def count_case(self, case_id: str, call, setup=None, warmup_calls: int = 10,
                   repeats: int = REPEATS, calls: int | None = None, extra: dict | None = None) -> None:
        """Warm up, count a baseline block and ``repeats`` blocks of ``call``, record them."""
        calls = calls or int(self.plan.get(case_id, MAX_CALLS_PER_REPEAT))
        started = time.perf_counter()
        args = ()
        for _ in range(max(1, warmup_calls)):
            args = setup() if setup is not None else ()
            call(*args)
        # The baseline block passes the last warm-up arguments again: the loop and the client
        # requests as in the counted blocks, without building a graph it would not use.
        baseline_setup = (lambda: args) if setup is not None else None
        warmed = time.perf_counter()
        # Switching instrumentation on makes callgrind translate the code afresh, which costs
        # seconds: once per case, around its blocks only.
        self.requests.start_instrumentation()
        try:
            baseline = self._block(f"{case_id}|baseline", lambda *_: None, baseline_setup, calls)
            parts = [self._block(f"{case_id}|repeat{i}", call, setup, calls) for i in range(repeats)]
        finally:
            self.requests.stop_instrumentation()
        record = {"case_id": case_id, "calls": calls, "baseline_part": baseline, "repeat_parts": parts,
                  "warmup_seconds": warmed - started, "counting_seconds": time.perf_counter() - warmed,
                  "time": time.time(), **(extra or {})}
        with open(self.out_dir / MANIFEST, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def cpu_features() -> dict:
    """What the counted program saw of the CPU: torch's kernel dispatch level (valgrind hides
    AVX-512, so it reads AVX2 where the machine has AVX-512) and its threads."""
    import torch

    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    return {"cpu_capability": capability() if capability else "unknown (torch has no get_cpu_capability)",
            "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads()}


def calls_per_repeat(median_seconds: float | None) -> int:
    """Calls per counted block, from the case's timed median: about BLOCK_SECONDS of calls."""
    if not median_seconds or median_seconds <= 0:
        return MAX_CALLS_PER_REPEAT
    return max(1, min(MAX_CALLS_PER_REPEAT, round(BLOCK_SECONDS / median_seconds)))


def worker_environment(isa: str = counting_isa.DEFAULT) -> dict:
    """The counting process's environment: one thread everywhere, a fixed hash seed, and the
    libraries' instruction sets as ``isa`` says (blitzbench.counting_isa)."""
    env = counting_isa.environment(isa, os.environ)
    env.update(PYTHONHASHSEED="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1")
    return env


# -- in the timing run: start the counting process, read what it wrote ----------------------------

@dataclass
class CaseCount:
    case_id: str
    per_call: list[float]  # per repeat, baseline subtracted
    calls: int
    batch_size: int
    functions: dict[str, list[float]] = field(default_factory=dict)  # name -> [exclusive, inclusive] per call

    @property
    def median(self) -> float:
        return statistics.median(self.per_call)

    @property
    def spread(self) -> float:
        return (max(self.per_call) - min(self.per_call)) / self.median if self.median else 0.0

    def extra_info(self) -> dict:
        return {"instructions_per_call": self.median, "instructions_per_sample": self.median / self.batch_size,
                "instructions_spread": self.spread, "instructions_repeats": self.per_call,
                "instructions_calls_per_repeat": self.calls}


def read_total(path: Path) -> int:
    """A dump's ``totals:`` line, without parsing the rest."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("totals:"):
                return int(line.split(":", 1)[1].split()[0])
    raise ValueError(f"{path}: no 'totals:' line (not a finished callgrind dump)")


def summarize(record: dict, out_dir: Path, batch_size: int) -> CaseCount:
    """One manifest record into its counts per call, and the median repeat's profile per call."""
    out_dir = Path(out_dir)
    calls = int(record["calls"])
    baseline_path = out_dir / f"{OUT_NAME}.{record['baseline_part']}"
    baseline = read_total(baseline_path)
    totals = [read_total(out_dir / f"{OUT_NAME}.{part}") for part in record["repeat_parts"]]
    per_call = [(total - baseline) / calls for total in totals]
    median_part = sorted(zip(totals, record["repeat_parts"]))[(len(totals) - 1) // 2][1]
    profile = callgrind.read(out_dir / f"{OUT_NAME}.{median_part}")
    base = callgrind.read(baseline_path)
    functions = {}
    floor = PROFILE_SHARE * max(profile.total - base.total, 1)
    for name, inclusive in profile.inclusive.items():
        exclusive = profile.exclusive.get(name, 0) - base.exclusive.get(name, 0)
        inclusive -= base.inclusive.get(name, 0)
        if abs(exclusive) >= floor or abs(inclusive) >= floor:
            functions[name] = [exclusive / calls, inclusive / calls]
    return CaseCount(record["case_id"], per_call, calls, batch_size, functions)


def read_manifest(out_dir: Path) -> list[dict]:
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class CountingRun:
    """What the counting processes produced: counts per case (blitzbench.cases.Case), and why any
    case has none."""

    counts: dict  # Case -> CaseCount
    missing: dict  # Case -> why it has no count
    seconds: float
    valgrind: str
    features: dict
    log_tail: str = ""
    jobs: int = 1
    isa: str = counting_isa.DEFAULT


def worker_command(out_dir: Path, nodeids: list[str], grid_options: list[str], plugins: list[str]) -> list[str]:
    return (callgrind.command(Path(out_dir) / OUT_NAME)
            + [sys.executable, "-m", "pytest", *nodeids, "-q", "-p", "no:cacheprovider", "--benchmark-disable",
               "--instructions-worker", str(out_dir), *grid_options, *plugins])


def split_cases(weights: dict, jobs: int) -> list[list]:
    """Cases shared among ``jobs`` counting processes, each case's weight (its timed median) to
    the least loaded one, heaviest first; each process keeps the cases in their given order."""
    jobs = max(1, min(jobs, len(weights)))
    loads, groups = [0.0] * jobs, [set() for _ in range(jobs)]
    for case in sorted(weights, key=lambda c: -weights[c]):
        i = loads.index(min(loads))
        loads[i] += weights[case]
        groups[i].add(case)
    return [[c for c in weights if c in group] for group in groups if group]


def default_jobs() -> int:
    """Counting processes at once: one per CPU (valgrind runs a process on one core at a time),
    at most 4. Counts do not depend on what else the machine is doing."""
    return max(1, min(4, os.cpu_count() or 1))


def run_counting(counted: list, nodeids: dict, grid_options, plugins: list[str], cwd: Path,
                 progress=print, calls: dict | None = None, weights: dict | None = None,
                 jobs: int = 1, isa: str = counting_isa.DEFAULT) -> CountingRun:
    """Count the ``counted`` cases (blitzbench.cases.Case) in ``jobs`` valgrind processes at once,
    one progress line per case as it is counted. ``nodeids``: their pytest node ids;
    ``grid_options(cases)``: the options that generate those cases; ``calls``: calls per repeat;
    ``weights``: each case's expected cost, for sharing them out; ``isa``: the instruction sets the
    libraries may use (blitzbench.counting_isa). The counting processes name a
    case by its id (in the plan and the manifest they write); it is read back here, once."""
    started = time.perf_counter()
    version = callgrind.valgrind_version() or "valgrind (version unknown)"
    counts, features, tails, failures = {}, {}, [], []
    by_id = {case.id: case for case in counted}
    groups = split_cases(weights or {c: 1.0 for c in counted}, jobs)
    with tempfile.TemporaryDirectory(prefix="blitzbench-callgrind-") as tmp:
        workers = []
        for i, group in enumerate(groups):
            out_dir = Path(tmp) / f"job{i}"
            out_dir.mkdir()
            (out_dir / PLAN).write_text(json.dumps({c.id: (calls or {}).get(c, MAX_CALLS_PER_REPEAT) for c in group}),
                                        encoding="utf-8")
            log = open(out_dir / "worker.log", "w", encoding="utf-8")
            command = worker_command(out_dir, [nodeids[c] for c in group], grid_options(group), plugins)
            process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                       env=worker_environment(isa))
            workers.append({"dir": out_dir, "log": log, "process": process, "seen": 0})
        try:
            while workers and any(w["process"].returncode is None for w in workers):
                time.sleep(0.5)
                for w in workers:
                    finished = w["process"].poll() is not None
                    records = read_manifest(w["dir"])
                    for record in records[w["seen"]:]:
                        case = by_id[record["case_id"]]
                        count = summarize(record, w["dir"], case.batch_size)
                        counts[case] = count
                        features = {k: record[k] for k in ("cpu_capability", "torch_threads", "torch_interop_threads")
                                    if k in record}
                        progress(f"counted {count.case_id}: {count.median:,.0f} instructions per call "
                                 f"(spread {count.spread:.3%}; {len(counts)}/{len(counted)}, "
                                 f"{time.perf_counter() - started:.0f} s)")
                    w["seen"] = len(records)
                    if finished and not w.get("done"):
                        w["done"] = True
                        w["log"].close()
                        tail = (w["dir"] / "worker.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
                        tails.append("\n".join(tail[-15:]))
                        if w["process"].returncode != 0:
                            failures.append(f"exit status {w['process'].returncode}" + (f": {tail[-1]}" if tail else ""))
        finally:
            for w in workers:
                if w["process"].poll() is None:
                    w["process"].kill()
                    w["process"].wait()
                if not w["log"].closed:
                    w["log"].close()
    seconds = time.perf_counter() - started
    missing = {}
    if failures or len(counts) < len(counted):
        why = "a counting process (valgrind) ended with " + ("; ".join(failures) or "exit status 0")
        missing = {case: why for case in counted if case not in counts}
    return CountingRun(counts, missing, seconds, version, features, "\n".join(tails), len(groups), isa)


def save_profiles(path: Path, counts: dict, meta: dict) -> Path:
    """Each case's functions (exclusive and inclusive instructions per call) as gzip'd JSON,
    written through a temporary file and a rename."""
    data = {"format": "blitzbench callgrind profiles 1", **meta,
            "cases": {c.case_id: {"instructions_per_call": c.median, "calls_per_repeat": c.calls,
                                  "functions": {name: [round(e, 2), round(i, 2)] for name, (e, i)
                                                in sorted(c.functions.items())}}
                      for c in counts.values()}}
    return write_atomic(path, gzip.compress(json.dumps(data, separators=(",", ":")).encode(), mtime=0))


def save_profiles_beside(run_path: Path, run: CountingRun | None) -> Path | None:
    """A counting run's profiles, saved beside the benchmark run saved at ``run_path``
    (:func:`profile_path_for`); None when it counted nothing."""
    if run is None or not run.counts:
        return None
    return save_profiles(profile_path_for(run_path), run.counts, {"valgrind": run.valgrind, "counting_isa": run.isa,
                                                           **run.features})


def load_profiles(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def profile_path_for(run_path: Path) -> Path:
    """Where a saved run's callgrind profiles lie: beside it, same stem."""
    run_path = Path(run_path)
    return run_path.with_name(run_path.stem + PROFILE_SUFFIX)
