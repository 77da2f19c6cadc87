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
than the tolerance or a measuring process fails, 2 on bad input (checked before any timing, ``--json`` included: a new file
name or an earlier record, never a folder or a saved benchmark run). The backward phase is left
out: it needs a fresh graph per call, which neither independent timer can set up outside its
timed region.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from blitzbench.cli.args import BadInput, OneLineParser, check_outputs, fraction, positive_float, positive_int, shown
from blitzbench.measure import fidelity
from blitzbench.messages import RunFailed

PROG = "blitzbench fidelity"


def main(argv=None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__)
    parser.add_argument("--cases", default=",".join(fidelity.DEFAULT_CASES), metavar="ID,ID,...",
                        help=f"comma-separated case ids (default: {', '.join(fidelity.DEFAULT_CASES)})")
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
    try:
        if args.measure:
            cases = [fidelity.parse_case(args.measure)]
        else:
            check_outputs({"--json": args.json}, suffixes={"--json": (".json",)})
            cases = [fidelity.parse_case(text.strip()) for text in args.cases.split(",") if text.strip()]
            if not cases:
                raise ValueError("--cases is empty; give case ids such as chapter_net-cpu-bs4-forward")
        from blitzbench.measure.devices import unavailable_reason  # torch: only once the input is read

        for case in cases:
            if reason := unavailable_reason(case.device):
                raise ValueError(f"case {case.id}: {reason}")
    except (BadInput, ValueError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if args.measure:
        print(fidelity.measure_here(cases[0], args.min_run_time))
        return 0
    try:
        measured = fidelity.cross_check(cases, args.repeats, args.min_run_time,
                                        progress=lambda line: print(line, flush=True))
    except (RunFailed, subprocess.TimeoutExpired) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    results = fidelity.verdicts(cases, measured, args.tolerance)
    import torch
    from tabulate import tabulate

    rows = [[r["case"], f"{1e6 * statistics.median(r['suite_median_s']):,.1f}",
             f"{1e6 * statistics.median(r['independent_median_s']):,.1f}", r["independent_method"],
             " ".join(f"{x:.3f}" for x in r["ratios"]), f"{r['median_ratio']:.3f}",
             "yes" if r["within_tolerance"] else "NO"] for r in results]
    worst = max(abs(r["median_ratio"] - 1) for r in results)
    print(tabulate(rows, headers=["case", "suite median (us)", "independent median (us)", "independent timing",
                                  "ratios (suite/independent)", "median ratio", f"within {args.tolerance:.0%}"],
                   disable_numparse=True))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; worst |median ratio - 1| = {worst:.1%}")
    if args.json:
        from blitzbench.store import write_atomic
        write_atomic(args.json, json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                                            "tolerance": args.tolerance, "cases": results}, indent=2) + "\n")
        print(f"saved: {shown(args.json)}")
    return 0 if worst <= args.tolerance else 1
