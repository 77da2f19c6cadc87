"""Interleaved runs of tox environments: how to compare torch releases on a machine that drifts.

    blitzbench matrix ENV,ENV[,...] [--rounds R] [--instructions] [--results-dir DIR] [--tox CMD] [-- PYTEST_ARGS]
    blitzbench matrix ENV,ENV[,...] --verify [--results-dir DIR] [--tox CMD] [-- PYTEST_ARGS]
    make matrix ARGS="torch24,torch215 --rounds 6 -- --quick --device cpu"
    blitzbench matrix torch24,torch215 --instructions -- --quick --device cpu

Round r runs each environment's benchmark command once (``tox -e ENV -- PYTEST_ARGS``), in the
listed order in odd rounds and in reverse in even ones (A B, B A, A B, ...: counterbalanced, so
that neither side always runs first after the other). A shared machine drifts by 10-25% between
runs minutes apart; runs in the same round see about the same machine, and blitzbench report pairs
them round by round (see blitzbench.analysis.paired_stats). Each run is saved by the suite under
``DIR/<env>/`` (default ``results/tox/<env>/``) with its series (the env), round and matrix id
recorded in the JSON's ``machine_info["blitzbench_matrix"]``. DIR is relative to the current folder;
the runs themselves start in the suite's checkout, where tox.ini is.

The default of 6 rounds is the fewest for which the distribution-free interval of a median
reaches 95% (min..max of 6 paired ratios covers 1 - 2/64 = 96.9%); with fewer rounds the report
calls no change. Environments are created first (``tox -e ENV --notest``). One progress line per
run: env, round, its time, elapsed, estimated time left; every run's output goes to
``DIR/matrix-<id>.log``. A failing run stops the matrix naming the env (exit 1); Ctrl-C stops the
run in progress, which saves nothing, and keeps every finished run (exit 130). Bad input (an
unknown env, ``--rounds 0``, tox missing) ends with one line and exit status 2.

``--instructions`` passes ``--instructions`` to each run (blitzbench.measure.instructions: Callgrind counts of
the CPU cases, which do not drift), and makes one round the default: a count decides in one run.
Each progress line then says how long the counting took in that environment.

``--verify`` runs the verification of torch instead (blitzbench.analysis.verification.SUITE: bench/'s
checks, each benchmark once untimed, ``tox exec -e ENV -- python -m pytest bench --benchmark-disable``;
``--harness-tests`` adds the harness's own tests, which ``make test`` runs once), once per
environment, in the listed order, with one progress line each (passed, failed, skipped, time).
Each environment's results are kept as JUnit XML, ``DIR/<env>/verification.xml`` (replaced whole
when the run ends; a run that stops early keeps the previous file). Then the table of checks by
release, from every ``<env>/verification.xml`` under DIR, is printed and saved as
``DIR/verification.md`` and ``.json`` (blitzbench.analysis.verification). Exit status 1 when a release run now
fails a check, each failing case named; a failure of the check itself is not a failure of the
run, which goes on to the next environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from blitzbench import matrix
from blitzbench.analysis import verification
from blitzbench.analysis.paired_stats import MIN_ROUNDS
from blitzbench.cli.args import BadInput, OneLineParser, check_output_folder, check_outputs, split_pytest_args
from blitzbench.cli.verification import check_table_paths
from blitzbench.messages import RunFailed
from blitzbench.values import accepted_whole_numbers, whole_number

PROG = matrix.PROG


def main(argv=None) -> int:
    argv, pytest_args = split_pytest_args(sys.argv[1:] if argv is None else argv)
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("envs", metavar="ENV,ENV[,...]", help="tox environments (tox -l lists them)")
    p.add_argument("--rounds", default=None, metavar="R",
                   help=f"rounds, each running every environment once (default: {matrix.DEFAULT_ROUNDS}, the fewest "
                        "for a 95%% interval; 1 with --instructions)")
    p.add_argument("--instructions", action="store_true",
                   help="also count each CPU case's instructions (pytest's --instructions); one round is enough for "
                        "counts, which do not drift")
    p.add_argument("--verify", action="store_true",
                   help="run the verification of torch (bench/'s checks, each benchmark once untimed) in each "
                        "environment, instead of the benchmarks; then print the table of checks by release and save it as "
                        "DIR/verification.md and .json")
    p.add_argument("--harness-tests", action="store_true",
                   help="with --verify: run the harness's own tests (tests/) in each environment too")
    p.add_argument("--results-dir", type=Path, default=verification.DEFAULT_FOLDER, metavar="DIR",
                   help="runs are saved under DIR/<env>/ (default: results/tox, in the current folder)")
    p.add_argument("--tox", default=None, metavar="CMD", help="the tox command (default: tox beside this Python, "
                   "else on PATH)")
    args = p.parse_args(argv)
    try:
        if args.verify and (args.rounds is not None or args.instructions):
            raise BadInput(f"--verify runs each environment's checks once; accepted: --verify alone, or "
                           f"{'--rounds' if args.rounds is not None else '--instructions'} without --verify")
        if args.harness_tests and not args.verify:
            raise BadInput("--harness-tests adds the harness's tests to --verify; accepted: --verify --harness-tests")
        if args.rounds is None:
            args.rounds = "1" if args.instructions else str(matrix.DEFAULT_ROUNDS)
        try:
            rounds = whole_number(args.rounds, least=1)
        except ValueError:
            raise BadInput(f"--rounds {args.rounds!r}: accepted: {accepted_whole_numbers(1)} "
                           f"({matrix.DEFAULT_ROUNDS} or more for the report to call a change)") from None
        check_output_folder("--results-dir", args.results_dir)
        if args.verify:
            check_table_paths(args.results_dir, "--results-dir")
        tox = matrix.find_tox(args.tox)
        envs = matrix.parse_envs(args.envs, matrix.list_envs(tox))
        if args.verify:  # each environment's JUnit XML, replaced when its run ends
            for env in envs:
                check_outputs({"--results-dir": args.results_dir / env / verification.RESULT_FILE},
                              suffixes={"--results-dir": (".xml",)})
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if args.verify:
        return _verify(envs, args.results_dir, tox, pytest_args, args.harness_tests)
    if args.instructions and "--instructions" not in pytest_args:
        pytest_args = ["--instructions", *pytest_args]
    if rounds < MIN_ROUNDS:
        print(f"{PROG}: note: with {rounds} rounds the report's time intervals cover less than 95%, and it calls "
              f"no change of time; {MIN_ROUNDS} rounds are the fewest that can"
              + ("; instruction counts are compared from one run" if args.instructions else ""), file=sys.stderr)
    try:
        matrix.run_matrix(envs, rounds, args.results_dir, tox, pytest_args)
    except RunFailed as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _verify(envs, results_dir, tox, pytest_args, harness_tests=False) -> int:
    try:
        table = matrix.run_verification(envs, results_dir, tox, pytest_args, harness_tests=harness_tests)
    except RunFailed as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    failing = verification.failing_lines(table, envs)
    if failing:
        print(f"{PROG}: {len(failing)} check{'s' * (len(failing) != 1)} failed:", file=sys.stderr)
        for line in failing:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{PROG}: every check passed or was skipped with its reason in {', '.join(envs)}", file=sys.stderr)
    return 0
