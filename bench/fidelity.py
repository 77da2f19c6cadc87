"""Cross-check: does the suite's median agree with torch.utils.benchmark.Timer on the same work?

    python -m bench.fidelity [--cases ID,ID,...] [--repeats 7] [--tolerance 0.05] [--json FILE]

For each case, the suite's median (``pytest bench --benchmark-only`` on that case, with the
suite's own options and timer, run through ``pytest.main`` in this process) and Timer's median
(``blocked_autorange`` on the same Workload callable, with ``num_threads=torch.get_num_threads()``
so both use every thread) are measured alternately, suite then Timer, case by case,
``--repeats`` times after one untimed pass; the verdict uses the median of the per-repeat
ratios, so that the drift of a shared machine between two measurements cancels out.
Exit status 1 when a case's median ratio is off by more than the tolerance, 2 on bad input.
The backward phase is left out: it needs a fresh graph per call, which Timer cannot set up
outside its timed region.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CASES = ("chapter_net-cpu-bs4-forward", "lenet-cpu-bs64-inference",
                 "cifar_net-cpu-bs64-train_step", "chapter_net-cpu-bs4-step")


def parse_case(text: str):
    """A case id (bench.cases' form) that the cross-check can run; ValueError says what is accepted."""
    from bench.cases import PHASES, Case
    from reference_models import MODELS

    case = Case.parse(text, models=tuple(MODELS))
    if case.phase == "backward":
        accepted_phases = ", ".join(p for p in PHASES if p != "backward")
        raise ValueError(f"case {text!r}: phase 'backward' cannot be cross-checked; accepted: {accepted_phases}")
    return case


def suite_median(case, workdir: Path) -> float:
    """The suite's median for one case: ``pytest bench --benchmark-only`` on it, in this process."""
    import pytest

    out = workdir / f"{case.id}.json"
    args = [f"bench/test_throughput.py::test_throughput[{case.id}]", "--benchmark-only", "-q",
            "-p", "no:cacheprovider", f"--batch-sizes={case.batch_size}", f"--device={case.device}",
            f"--results-dir={workdir / 'runs'}", f"--benchmark-json={out}", f"--rootdir={ROOT}"]
    log = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            status = pytest.main(args)
    finally:
        os.chdir(cwd)
    if status != 0 or not out.exists():
        tail = "\n".join(log.getvalue().splitlines()[-15:])
        raise RuntimeError(f"the suite's run of {case.id} failed (exit {int(status)}):\n{tail}")
    (bench,) = json.loads(out.read_text())["benchmarks"]
    return bench["stats"]["median"]


def timer_median(case, min_run_time: float) -> float:
    import torch
    import torch.utils.benchmark as tbench

    from bench.workloads import Workload

    workload = Workload(case)
    workload.check()
    workload.prepare()
    timer = tbench.Timer("fn()", globals={"fn": workload.timed}, num_threads=torch.get_num_threads(),
                         label=case.id)
    timer.timeit(10)  # warm-up
    return timer.blocked_autorange(min_run_time=min_run_time).median


def main(argv=None) -> int:
    from reference_models.cli_args import OneLineParser

    parser = OneLineParser(prog="python -m bench.fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES),
                        help="comma-separated case ids (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=7, help="suite/Timer alternations per case (default: 7)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="accepted |ratio - 1| (default: 0.05)")
    parser.add_argument("--min-run-time", type=float, default=1.0, help="Timer seconds per case (default: 1.0)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    try:
        cases = [parse_case(text.strip()) for text in args.cases.split(",") if text.strip()]
        if not cases:
            raise ValueError("--cases is empty; give case ids such as chapter_net-cpu-bs4-forward")
        if args.repeats < 1:
            raise ValueError(f"--repeats must be a positive integer, got {args.repeats}")
        if not 0 < args.tolerance < 1:
            raise ValueError(f"--tolerance must be between 0 and 1, got {args.tolerance}")
        from bench.devices import unavailable_reason
        for case in cases:
            reason = unavailable_reason(case.device)
            if reason:
                raise ValueError(f"case {case.id}: {reason}")
    except ValueError as error:
        print(f"bench.fidelity: {error}", file=sys.stderr)
        return 2

    from tabulate import tabulate

    ratios = {case.id: [] for case in cases}
    rows_raw = {case.id: {"suite_s": [], "timer_s": []} for case in cases}
    with tempfile.TemporaryDirectory() as tmp:
        # One untimed pass first: the first pytest.main in a process imports and rewrites the
        # suite's modules, and the first Timer run pays the allocator's growth; neither is the case.
        for case in cases:
            suite_median(case, Path(tmp))
            timer_median(case, 0.2)
        for repeat in range(args.repeats):
            for case in cases:
                try:
                    suite = suite_median(case, Path(tmp))
                except RuntimeError as error:
                    print(f"bench.fidelity: {error}", file=sys.stderr)
                    return 2
                timer = timer_median(case, args.min_run_time)
                rows_raw[case.id]["suite_s"].append(suite)
                rows_raw[case.id]["timer_s"].append(timer)
                ratios[case.id].append(suite / timer)
            print(f"repeat {repeat + 1}/{args.repeats}: " + ", ".join(
                f"{cid} {r[-1]:.3f}" for cid, r in ratios.items()), flush=True)

    rows, results, worst = [], [], 0.0
    for case in cases:
        r = ratios[case.id]
        median_ratio = statistics.median(r)
        ok = abs(median_ratio - 1) <= args.tolerance
        worst = max(worst, abs(median_ratio - 1))
        suite_us = 1e6 * statistics.median(rows_raw[case.id]["suite_s"])
        timer_us = 1e6 * statistics.median(rows_raw[case.id]["timer_s"])
        rows.append([case.id, f"{suite_us:,.1f}", f"{timer_us:,.1f}", " ".join(f"{x:.3f}" for x in r),
                     f"{median_ratio:.3f}", "yes" if ok else "NO"])
        results.append({"case": case.id, "suite_median_s": rows_raw[case.id]["suite_s"],
                        "timer_median_s": rows_raw[case.id]["timer_s"], "ratios": r,
                        "median_ratio": median_ratio, "within_tolerance": ok})
    import torch
    print(tabulate(rows, headers=["case", "suite median (us)", "Timer median (us)", "ratios (suite/Timer)",
                                  "median ratio", f"within {args.tolerance:.0%}"], disable_numparse=True))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; worst |median ratio - 1| = {worst:.1%}")
    if args.json:
        from bench.results_store import write_atomic
        write_atomic(args.json, json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                                            "tolerance": args.tolerance, "cases": results}, indent=2) + "\n")
        print(f"saved: {args.json}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
