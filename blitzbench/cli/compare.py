"""Both answers for two or more torch releases, in one command: is each correct, and what did it
change in speed.

    blitzbench compare ENV,ENV[,...] [--rounds N] [--jobs N] [--counting-isa ISA] [--out DIR] [-- PYTEST_ARGS]
    blitzbench compare torch214,torch215
    blitzbench compare torch214,torch215 --rounds 6

For each tox environment (tox -l lists them; the first is the baseline): the verification of torch
(bench/'s checks, each benchmark once untimed), and one run of the benchmark selection with each CPU
case's instructions counted (Callgrind; counts do not drift between runs as times do, so one run
decides). With --rounds N, then N interleaved timed rounds (A B, B A, ...), one run at a time,
for time verdicts; the report calls a change of time from 6 rounds up. The selection is the quick
CPU set (--quick --device cpu) unless PYTEST_ARGS after -- say otherwise; counting covers
bench/test_throughput.py's CPU cases, rounds time all of bench/'s benchmarks in the selection.

Verification and counting of different environments run --jobs at once (default: one per CPU core),
the verifications first, each step with its share of the cores as torch's intra-op threads (on 2
cores and 2 jobs: one thread each; --jobs 1 verifies with every core's thread, more slowly); timed
rounds never run beside anything. Environments are made by tox when missing or holding
another torch or torchvision than tox.ini pins, and used as they are when ready. One progress line per finished step, with the time elapsed and an
estimate of the time left.

Then one summary, printed and saved as OUT/summary.md: each release's checks, the checks whose outcome
differs between the releases, the known bugs; instruction ratios per case with their verdicts;
for the cases whose counts changed most, the functions behind the change (as blitzbench report
--explain); time verdicts where rounds were run. OUT also holds each environment's saved runs and
verification.xml, verification.md/.json (the table of checks by release), report.md/.json/.html
(blitzbench report over OUT's runs), steps.json (the time of each step and the total) and logs/.
OUT (default results/compare/<ENVS>-<date-time>) must be new or empty: nothing is overwritten.

Exit status: 0 when every check passed or was skipped with its reason; 1 when a check failed (each
named) or a step failed (named, with the end of its log); 2 on bad input (one line); 130 on Ctrl-C,
finished steps keeping what they saved.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from blitzbench import counting_isa
from blitzbench.cli.args import BadInput, OneLineParser, check_output_folder, split_pytest_args
from blitzbench.messages import RunFailed, shown
from blitzbench.values import accepted_whole_numbers, whole_number

PROG = "blitzbench compare"
DEFAULT_FOLDER = Path("results") / "compare"


def main(argv=None) -> int:
    argv, pytest_args = split_pytest_args(sys.argv[1:] if argv is None else argv)
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("envs", metavar="ENV,ENV[,...]", help="tox environments, the baseline first (tox -l lists them)")
    p.add_argument("--rounds", default="0", metavar="N",
                   help="timed rounds after the counting, interleaved (default: 0, counts only; 6 or more for "
                        "the report to call a change of time)")
    p.add_argument("--jobs", default=None, metavar="N",
                   help="verification and counting steps at once (default: one per CPU core)")
    p.add_argument("--counting-isa", default=counting_isa.DEFAULT, metavar="ISA",
                   help=f"the instruction sets oneDNN and MKL may use while counted: "
                        f"{', '.join(sorted(counting_isa.SETTINGS))} (default: %(default)s; docs/benchmarks.md, "
                        "'Which kernels are counted')")
    p.add_argument("--harness-tests", action="store_true",
                   help="verify with the harness's own tests (tests/) too, in each environment")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="a new or empty folder for everything it saves (default: results/compare/<ENVS>-<date-time>, "
                        "in the current folder)")
    p.add_argument("--tox", default=None, metavar="CMD", help="the tox command that makes environments (default: "
                   "tox beside this Python, else on PATH)")
    args = p.parse_args(argv)
    from blitzbench import compare, matrix
    from blitzbench.measure import callgrind

    try:
        try:
            rounds = whole_number(args.rounds, least=0)
        except ValueError:
            raise BadInput(f"--rounds {args.rounds!r}: accepted: {accepted_whole_numbers(0)} (6 or more for the "
                           "report to call a change of time)") from None
        try:
            jobs = whole_number(args.jobs, least=1) if args.jobs is not None else compare.default_jobs()
        except ValueError:
            raise BadInput(f"--jobs {args.jobs!r}: accepted: {accepted_whole_numbers(1)}") from None
        if args.counting_isa not in counting_isa.SETTINGS:
            raise BadInput(f"--counting-isa {args.counting_isa!r}: accepted: {', '.join(sorted(counting_isa.SETTINGS))}")
        tox = matrix.find_tox(args.tox)
        envs = matrix.parse_envs(args.envs, matrix.list_envs(tox))
        if len(envs) < 2:
            raise BadInput(f"{args.envs!r}: one environment has nothing to be compared with; accepted: two or more, "
                           "comma-separated, the baseline first")
        out = args.out or DEFAULT_FOLDER / f"{'-'.join(envs)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        check_output_folder("--out", out, empty=True)
        reason = callgrind.missing_reason()
        if reason:
            raise BadInput(f"counting instructions: {reason}")
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    began = time.perf_counter()
    try:
        record = compare.run_compare(envs, out, tox, jobs, rounds, args.counting_isa, pytest_args, args.harness_tests)
    except RunFailed as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; finished steps keep what they saved under {shown(out)}", file=sys.stderr)
        return 130
    try:
        failing = summarize(envs, out.resolve(), record, began)
    except BadInput as error:  # what the steps saved cannot be read back: the run failed, not the input
        print(f"{PROG}: the summary could not be made: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted while summarizing; the steps' results are kept under {shown(out)}",
              file=sys.stderr)
        return 130
    if failing:
        print(f"{PROG}: {len(failing)} check{'s' * (len(failing) != 1)} failed:", file=sys.stderr)
        for line in failing:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def summarize(envs: list[str], out: Path, record: dict, began: float) -> list[str]:
    """Print the summary, write the report files and the summary; the failing checks' lines."""
    from blitzbench import compare
    from blitzbench.analysis import (comparison, compare_summary, report_export, report_html, report_text, verdicts,
                                     verification)
    from blitzbench.analysis.saved_runs import collect, group_series
    from blitzbench.store import write_atomic

    started = time.perf_counter()
    table = verification.build(verification.load_runs(out, envs))
    verification.save(table, out)
    differing = verification.differing_checks(verification.load_runs(out, envs))
    runs, _ = collect([out / env for env in envs])
    series = group_series(runs)
    baseline, why = comparison.choose_baseline(series, envs[0])
    report = comparison.build_report(series, baseline, verdicts.DEFAULT_MIN_CHANGE_PCT / 100, baseline_reason=why)
    explained, missing = compare_summary.explain_changes(report)
    print("\n" + compare_summary.render(table, differing, report, explained, missing, "simple"), flush=True)
    write_atomic(out / "summary.md", compare_summary.render(table, differing, report, explained, missing, "github"))
    write_atomic(out / "report.md", f"# Comparison of saved runs\n\n{report_text.render(report, 'github')}\n")
    report_export.write_json(out / "report.json", report)
    report_html.write_page(out / "report.html", report, table)
    record["summary_seconds"] = round(time.perf_counter() - started, 1)
    record["total_seconds"] = round(time.perf_counter() - began, 1)
    compare.save_steps(out, record)
    print(f"saved under {shown(out)}: summary.md, report.md/.json/.html, verification.md/.json, steps.json, logs/; "
          f"{len(record['steps'])} steps in {record['total_seconds'] / 60:.1f} min", flush=True)
    return verification.failing_lines(table, envs)
