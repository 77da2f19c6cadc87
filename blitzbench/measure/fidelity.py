"""Cross-check: does the suite's median agree with an independent timing of the same work?

For each case, the suite's median (:func:`suite_median`: ``pytest bench --benchmark-only`` on
that case, with the suite's own options, timer and round sizes) and an independent median of the
same Workload callable (:func:`independent_median`, blitzbench.measure.timing.independent_median)
are measured alternately, each in its own Python process (:func:`cross_check`); the verdict is the
median of the per-repeat ratios (:func:`verdicts`). The command: ``blitzbench fidelity``
(blitzbench.cli.fidelity), which says why it is measured this way.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from blitzbench import ROOT
from blitzbench.cases import pytest_options
from blitzbench.messages import RunFailed

DEFAULT_CASES = ("chapter_net-cpu-bs4-forward", "lenet-cpu-bs64-inference",
                 "cifar_net-cpu-bs64-train_step", "chapter_net-cpu-bs4-step")
MEASURE_TIMEOUT_S = 600


def parse_case(text: str):
    """A case id (blitzbench.cases' form) that the cross-check can run; ValueError says what is accepted."""
    from blitzbench.cases import PHASES, Case
    from reference_models import MODELS

    case = Case.parse(text, models=tuple(MODELS))
    if case.phase == "backward":
        accepted_phases = ", ".join(p for p in PHASES if p != "backward")
        raise ValueError(f"case {text!r}: phase 'backward' cannot be cross-checked; accepted: {accepted_phases}")
    return case


def _run(args: list[str], what: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=MEASURE_TIMEOUT_S)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise RunFailed(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done


def suite_arguments(case, workdir: Path, out: Path) -> list[str]:
    """``python`` arguments of the suite's run of one case: its test id and the options that
    select it (so that the run collects that case alone)."""
    return ["-m", "pytest", f"bench/test_throughput.py::test_throughput[{case.id}]", "--benchmark-only", "-q",
            "-p", "no:cacheprovider", *pytest_options([case]), f"--results-dir={workdir / 'runs'}",
            f"--benchmark-json={out}", f"--rootdir={ROOT}"]


def suite_median(case, workdir: Path) -> float:
    """The suite's median for one case: ``pytest bench --benchmark-only`` on it, in its own process."""
    out = workdir / f"{case.id}.json"
    out.unlink(missing_ok=True)
    _run(suite_arguments(case, workdir, out), f"the suite's run of {case.id}")
    if not out.exists():
        raise RunFailed(f"the suite's run of {case.id} saved no result (was the case skipped?)")
    (bench,) = json.loads(out.read_text())["benchmarks"]
    return bench["stats"]["median"]


def independent_median(case, min_run_time: float) -> float:
    """The independent timing of one case (see the module's docstring), in its own process."""
    done = _run(["-m", "blitzbench", "fidelity", "--measure", case.id, "--min-run-time", str(min_run_time)],
                f"the independent timing of {case.id}")
    return float(done.stdout.strip().splitlines()[-1])


def measure_here(case, min_run_time: float) -> float:
    """The independent timing of one case in this process (what ``blitzbench fidelity --measure``
    prints): seconds per call of the case's timed callable."""
    from blitzbench.measure import timing
    from blitzbench.measure.checks import checked_workload

    workload, _ = checked_workload(case)
    return timing.independent_median(workload.timed, case.device, min_run_time, label=case.id)


def cross_check(cases: list, repeats: int, min_run_time: float, progress: Callable[[str], None] = print) -> dict:
    """Case id -> {"suite_s": [...], "independent_s": [...], "ratios": [...]}: ``repeats`` rounds
    of the suite's median then the independent one, case by case, after one untimed pass; one
    progress line per round. RunFailed or subprocess.TimeoutExpired when a measurement fails."""
    measured = {case.id: {"suite_s": [], "independent_s": [], "ratios": []} for case in cases}
    with tempfile.TemporaryDirectory() as tmp:
        # One untimed pass first: it fills the file cache and torch.compile's caches, which
        # the first process of each kind would otherwise pay for as if it were the case.
        for case in cases:
            suite_median(case, Path(tmp))
            independent_median(case, 0.2)
        for repeat in range(repeats):
            for case in cases:
                suite = suite_median(case, Path(tmp))
                independent = independent_median(case, min_run_time)
                measured[case.id]["suite_s"].append(suite)
                measured[case.id]["independent_s"].append(independent)
                measured[case.id]["ratios"].append(suite / independent)
            progress(f"repeat {repeat + 1}/{repeats}: " + ", ".join(
                f"{cid} {m['ratios'][-1]:.3f}" for cid, m in measured.items()))
    return measured


def verdicts(cases: list, measured: dict, tolerance: float) -> list[dict]:
    """Per case, the record of :func:`cross_check`'s measurements: the median of the per-repeat
    ratios (so that a shared machine's drift between two measurements cancels), and whether it is
    within ``tolerance`` of 1."""
    from blitzbench.measure import timing

    results = []
    for case in cases:
        m = measured[case.id]
        median_ratio = statistics.median(m["ratios"])
        results.append({"case": case.id, "suite_median_s": m["suite_s"], "independent_median_s": m["independent_s"],
                        "independent_method": timing.INDEPENDENT_METHOD[case.device], "ratios": m["ratios"],
                        "median_ratio": median_ratio, "within_tolerance": abs(median_ratio - 1) <= tolerance})
    return results
