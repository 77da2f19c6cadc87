"""Cross-check: does the suite's median agree with an independent timing of the same work?

    blitzbench fidelity [--cases ID,ID,...] [--repeats 7] [--tolerance 0.05] [--json FILE.json]

For each case, the suite's median (``pytest bench --benchmark-only`` on that case, with the
suite's own options, timer and round sizes) and an independent median of the same Workload
callable are measured alternately, suite then independent, case by case, ``--repeats`` times
after one untimed pass. Each measurement runs in its own Python process, so neither inherits
the other's state (imports, allocator, a process's settled speed), and interleaving processes
averages out the speed a process happens to settle into. The independent timing:

  CPU   torch.utils.benchmark.Timer ``blocked_autorange`` with
        ``num_threads=torch.get_num_threads()`` (so both use every thread)
  CUDA  blocks of back-to-back calls between two CUDA events on the stream, one synchronize
        per block (at least 50 calls and 50 ms a block); the median block's time per call

The verdict uses the median of the per-repeat ratios, so that the drift of a shared machine
between two measurements cancels out. Exit status 1 when a case's median ratio is off by more
than the tolerance, 2 on bad input (checked before any timing, ``--json`` included: a new file
name or an earlier record, never a folder or a saved benchmark run). The backward phase is left
out: it needs a fresh graph per call, which neither independent timer can set up outside its
timed region.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from blitzbench import ROOT
from blitzbench.cli.args import BadInput, OneLineParser, check_outputs, fraction, positive_float, positive_int, shown

PROG = "blitzbench fidelity"

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
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done


def suite_arguments(case, workdir: Path, out: Path) -> list[str]:
    """``python`` arguments of the suite's run of one case: its test id and the options that
    select it (so that the run collects that case alone)."""
    return ["-m", "pytest", f"bench/test_throughput.py::test_throughput[{case.id}]", "--benchmark-only", "-q",
            "-p", "no:cacheprovider", f"--batch-sizes={case.batch_size}", f"--device={case.device}",
            f"--modes={case.mode}", f"--dtypes={case.dtype}", f"--memory-formats={case.memory_format}",
            f"--results-dir={workdir / 'runs'}", f"--benchmark-json={out}", f"--rootdir={ROOT}"]


def suite_median(case, workdir: Path) -> float:
    """The suite's median for one case: ``pytest bench --benchmark-only`` on it, in its own process."""
    out = workdir / f"{case.id}.json"
    out.unlink(missing_ok=True)
    _run(suite_arguments(case, workdir, out), f"the suite's run of {case.id}")
    if not out.exists():
        raise RuntimeError(f"the suite's run of {case.id} saved no result (was the case skipped?)")
    (bench,) = json.loads(out.read_text())["benchmarks"]
    return bench["stats"]["median"]


def independent_median(case, min_run_time: float) -> float:
    """The independent timing of one case (see the module's docstring), in its own process."""
    done = _run(["-m", "blitzbench", "fidelity", "--measure", case.id, "--min-run-time", str(min_run_time)],
                f"the independent timing of {case.id}")
    return float(done.stdout.strip().splitlines()[-1])


def _measure_here(case, min_run_time: float) -> float:
    """What ``--measure`` prints: seconds per call of the case's timed callable."""
    from blitzbench.measure import timing
    from blitzbench.measure.checks import checked_workload

    workload, _ = checked_workload(case)
    return timing.independent_median(workload.timed, case.device, min_run_time, label=case.id)


def main(argv=None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__)
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES), metavar="ID,ID,...",
                        help=f"comma-separated case ids (default: {', '.join(DEFAULT_CASES)})")
    parser.add_argument("--repeats", type=positive_int, default=7, metavar="N",
                        help="suite/independent alternations per case (default: %(default)s)")
    parser.add_argument("--tolerance", type=fraction, default=0.05,
                        help="accepted |median ratio - 1|, between 0 and 1 (default: %(default)s)")
    parser.add_argument("--min-run-time", type=positive_float, default=1.0, metavar="S",
                        help="independent timing's seconds per measurement (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE.json",
                        help="also write the results to this file (default: none written)")
    parser.add_argument("--measure", default=None, metavar="CASE",
                        help="internal: time CASE independently in this process and print seconds per call")
    args = parser.parse_args(argv)
    if args.measure:
        try:
            case = parse_case(args.measure)
            from blitzbench.measure.devices import unavailable_reason
            if reason := unavailable_reason(case.device):
                raise ValueError(f"case {case.id}: {reason}")
        except ValueError as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 2
        print(_measure_here(case, args.min_run_time))
        return 0
    try:
        check_outputs({"--json": args.json}, suffixes={"--json": (".json",)})
        cases = [parse_case(text.strip()) for text in args.cases.split(",") if text.strip()]
        if not cases:
            raise ValueError("--cases is empty; give case ids such as chapter_net-cpu-bs4-forward")
        from blitzbench.measure.devices import unavailable_reason
        for case in cases:
            reason = unavailable_reason(case.device)
            if reason:
                raise ValueError(f"case {case.id}: {reason}")
    except (BadInput, ValueError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2

    from tabulate import tabulate

    ratios = {case.id: [] for case in cases}
    rows_raw = {case.id: {"suite_s": [], "independent_s": []} for case in cases}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            # One untimed pass first: it fills the file cache and torch.compile's caches, which
            # the first process of each kind would otherwise pay for as if it were the case.
            for case in cases:
                suite_median(case, Path(tmp))
                independent_median(case, 0.2)
            for repeat in range(args.repeats):
                for case in cases:
                    suite = suite_median(case, Path(tmp))
                    independent = independent_median(case, args.min_run_time)
                    rows_raw[case.id]["suite_s"].append(suite)
                    rows_raw[case.id]["independent_s"].append(independent)
                    ratios[case.id].append(suite / independent)
                print(f"repeat {repeat + 1}/{args.repeats}: " + ", ".join(
                    f"{cid} {r[-1]:.3f}" for cid, r in ratios.items()), flush=True)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"{PROG}: {error}", file=sys.stderr)
            return 2

    from blitzbench.measure import timing

    rows, results, worst = [], [], 0.0
    for case in cases:
        r = ratios[case.id]
        median_ratio = statistics.median(r)
        ok = abs(median_ratio - 1) <= args.tolerance
        worst = max(worst, abs(median_ratio - 1))
        suite_us = 1e6 * statistics.median(rows_raw[case.id]["suite_s"])
        independent_us = 1e6 * statistics.median(rows_raw[case.id]["independent_s"])
        method = timing.INDEPENDENT_METHOD[case.device]
        rows.append([case.id, f"{suite_us:,.1f}", f"{independent_us:,.1f}", method, " ".join(f"{x:.3f}" for x in r),
                     f"{median_ratio:.3f}", "yes" if ok else "NO"])
        results.append({"case": case.id, "suite_median_s": rows_raw[case.id]["suite_s"],
                        "independent_median_s": rows_raw[case.id]["independent_s"], "independent_method": method,
                        "ratios": r, "median_ratio": median_ratio, "within_tolerance": ok})
    import torch
    print(tabulate(rows, headers=["case", "suite median (us)", "independent median (us)", "independent timing",
                                  "ratios (suite/independent)", "median ratio", f"within {args.tolerance:.0%}"],
                   disable_numparse=True))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; worst |median ratio - 1| = {worst:.1%}")
    if args.json:
        from blitzbench.analysis.results_store import write_atomic
        write_atomic(args.json, json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                                            "tolerance": args.tolerance, "cases": results}, indent=2) + "\n")
        print(f"saved: {shown(args.json)}")
    return 0 if worst <= args.tolerance else 1
