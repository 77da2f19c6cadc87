"""Compare saved benchmark runs: series of runs against a baseline series, case by case, by time
and by instruction count.

    blitzbench report [PATH ...] [--baseline SERIES|PATH|VERSION] [--min-change PCT]
                      [--format FMT] [--wide] [--markdown FILE] [--html FILE] [--json FILE]
                      [--csv FILE] [--plot FILE.png] [--verification FILE] [--fail-on-regression PCT]
    blitzbench report A B --explain CASE [--top N]

PATHs are saved runs or folders of them (default: results, in the current folder). Runs are
grouped into series: the runs of one tox environment (as blitzbench matrix recorded it, else
its folder), or in one flat folder the runs of one torch version, devices and machine; a file
named on its own is a series of its own. Cases are matched across series by what identifies them
(model, phase, device, batch size, dtype, memory format, mode, ...).

Time: a series' runs are paired with the baseline's round by round; the ratio is the median over
rounds of rate ÷ baseline rate (> 1: faster), with a distribution-free 95% interval. The verdict
is faster / slower when the whole interval lies beyond --min-change, same within, unclear when
it straddles, and "unclear (N runs)" with fewer than 6 paired rounds: a run or two per side
cannot tell a release from the machine's drift. Runs made with --instructions (counted runs)
are compared by their instruction counts only: their times were taken under counting.

Instruction counts: per case, instructions per call ÷ the baseline's; more / fewer beyond
--min-change-instructions, same within; one run per side decides (counts do not drift).
--explain CASE with two PATHs lists the functions whose counts changed most in that case.

Series are shown in release order. Runs from different machines (CPU model, GPU) are said to be
so first, and the default baseline is the lowest release of the machine with the most runs.

--fail-on-regression PCT exits 1 naming each case whose median time is more than PCT percent
above the baseline's (the ratio of medians, as pytest-benchmark's compare-fail), whatever the
verdict; the message says where the verdict is unclear. Bad input: one line and exit status 2;
no output may be an input, a saved run or a folder.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from pathlib import Path

from blitzbench.analysis import verdicts
from blitzbench.cli.args import BadInput, OneLineParser, check_outputs, choice, positive_int, shown

PROG = "blitzbench report"
DEFAULT_MIN_CHANGE_PCT = verdicts.DEFAULT_MIN_CHANGE_PCT
DEFAULT_MIN_CHANGE_INSTRUCTIONS_PCT = 1.0  # blitzbench.analysis.instruction_compare.DEFAULT_MIN_CHANGE_PCT
TABLE_FORMATS = ("simple", "github", "pipe", "plain", "grid", "rst", "orgtbl", "psql", "tsv")
SUFFIXES = {"--json": (".json",), "--csv": (".csv",), "--markdown": (".md", ".markdown"), "--plot": (".png",),
            "--html": (".html", ".htm")}


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not accepted: a percentage, 0 or more, such as 10")
    return value


def _change(text: str) -> float:
    value = _percent(text)
    if value >= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not accepted: a percentage from 0 to under 100, such as 5")
    return value


def parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("paths", nargs="*", type=Path, default=[Path("results")], metavar="PATH",
                   help="saved runs or folders of them (default: results)")
    p.add_argument("--baseline", default=None, help="a series' name (a tox env), a run's path or a torch version "
                   "(default: the lowest release of the machine with the most runs)")
    p.add_argument("--format", type=choice(TABLE_FORMATS), default="simple", metavar="FMT",
                   help=f"table format, one of {', '.join(TABLE_FORMATS)} (default: simple; github for Markdown)")
    p.add_argument("--wide", action="store_true", help="one row per case with every series side by side "
                   "(wider than a screen; default: one block per compared series, 120 columns)")
    p.add_argument("--markdown", type=Path, metavar="FILE.md", help="also write the report in Markdown to this file")
    p.add_argument("--html", type=Path, metavar="FILE.html", help="also write one self-contained page: heat maps "
                   "of the time and instruction ratios, the verdicts, where the instructions went, the verification table")
    p.add_argument("--verification", type=Path, metavar="FILE.json", help="with --html: the table of checks by "
                   "release (verification.json, as blitzbench verification --save writes it) shown on the page")
    p.add_argument("--json", type=Path, metavar="FILE.json", help="also write the comparison to this JSON file")
    p.add_argument("--csv", type=Path, metavar="FILE.csv", help="also write one row per case and series to this CSV file")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="also plot each case's ratio with its interval "
                   "to this PNG file")
    p.add_argument("--fail-on-regression", type=_percent, default=None, metavar="PCT",
                   help="exit 1 naming each case whose median time is more than PCT%% above the baseline's, "
                        "whatever the verdict (default: no gate)")
    p.add_argument("--min-change", type=_change, default=DEFAULT_MIN_CHANGE_PCT, metavar="PCT",
                   help="the smallest change of time worth calling, in percent (default: %(default)g)")
    p.add_argument("--min-change-instructions", type=_change, default=DEFAULT_MIN_CHANGE_INSTRUCTIONS_PCT,
                   metavar="PCT", help="the smallest change of instructions per call worth calling, in percent "
                   "(default: %(default)g)")
    p.add_argument("--cuda-vs-cpu", action="store_true", help="also print each series' latest CUDA ÷ CPU table")
    p.add_argument("--exclude", type=Path, action="append", default=[], metavar="DIR",
                   help="leave out the runs under DIR (repeatable; default: none)")
    p.add_argument("--explain", metavar="CASE", default=None,
                   help="with two PATHs A B (runs, or folders whose newest counted run is taken): the functions "
                        "whose instruction counts changed most in CASE (a case id such as chapter_net-cpu-bs4-forward), "
                        "from the callgrind profiles saved beside runs made with --instructions")
    p.add_argument("--top", type=positive_int, default=15, metavar="N",
                   help="with --explain: how many functions (default: %(default)s)")
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.explain is not None:
        ignored = [name for name, value in (("--html", args.html), ("--markdown", args.markdown), ("--csv", args.csv),
                                            ("--plot", args.plot), ("--verification", args.verification),
                                            ("--baseline", args.baseline), ("--wide", args.wide),
                                            ("--fail-on-regression", args.fail_on_regression),
                                            ("--cuda-vs-cpu", args.cuda_vs_cpu), ("--exclude", args.exclude))
                   if value not in (None, False, [])]
        if ignored:
            p.error(f"--explain lists where one case's instructions went and takes only --top, --format and --json; "
                    f"not {', '.join(ignored)}")
        return explain_main(p, args)
    if args.verification is not None and args.html is None:
        p.error("--verification is shown on the page: give --html FILE.html with it")
    outputs = {"--json": args.json, "--csv": args.csv, "--markdown": args.markdown, "--plot": args.plot,
               "--html": args.html}
    try:
        check_outputs(outputs, inputs=[*args.paths, *([args.verification] if args.verification else [])],
                      suffixes=SUFFIXES)
        _check_json_is_not_read(args.json, args.paths)
    except BadInput as error:
        p.error(str(error))
    from blitzbench.analysis import comparison, report_text
    from blitzbench.analysis.saved_runs import collect, group_series

    try:
        verification = _verification(args.verification) if args.verification else None
        runs, notes = collect(args.paths)
        excluded = [e.resolve() for e in args.exclude]
        runs = [r for r in runs if not any(r.path.resolve().is_relative_to(e) for e in excluded)]
        if not runs:
            raise BadInput("--exclude leaves no run to compare")
        series = group_series(runs)
        baseline, why = comparison.choose_baseline(series, args.baseline)
        report = comparison.build_report(series, baseline, args.min_change / 100, args.min_change_instructions / 100,
                                         why)
        if report.sides and not any(side.times or side.counts or side.time_absent for side in report.others()):
            raise BadInput(f"the runs have no case in common with the baseline ({baseline.label}); nothing to compare")
        if args.fail_on_regression is not None and not report.timed:
            raise BadInput(f"--fail-on-regression {args.fail_on_regression:g}: no case has a time compared with the "
                           f"baseline ({baseline.label}): the gate reads the times of runs that did not count "
                           "instructions, in a series other than the baseline")
        _print_skipped(notes)
        print(report_text.render_wide(report, args.format) if args.wide else report_text.render(report, args.format))
        if args.cuda_vs_cpu:
            from blitzbench.analysis.summary_table import throughput_table
            from blitzbench.cases import DEVICES
            for s in series:
                if not s.timed_runs:
                    print(f"\nCUDA ÷ CPU, {s.label}: no timed run (its runs counted instructions)")
                    continue
                latest = s.timed_runs[-1]
                print(f"\nCUDA ÷ CPU, {s.label}, {latest.path.name}\n"
                      + (throughput_table(latest.benchmarks, list(DEVICES), args.format) or "(no throughput cases)"))
        _write(args, report, verification)
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if args.fail_on_regression is not None:
        regressed = comparison.regressions(report, args.fail_on_regression / 100)
        if regressed:
            print(f"\nregressions of more than {args.fail_on_regression:g}% by median time (the series' ÷ the "
                  "baseline's), whatever the verdict:", file=sys.stderr)
            for r in regressed:
                c = r.comparison
                if c.verdict.startswith("unclear ("):
                    verdict = f"the verdict is {c.verdict}: too few runs to tell this from the machine's drift"
                elif c.verdict == "unclear":
                    verdict = f"the verdict is unclear: its interval straddles ±{report.min_change:.0%}"
                else:
                    verdict = f"verdict: {c.verdict}"
                line = f"  {r.case} ({r.label}): {c.slowdown:.1%} slower by median time; {verdict}"
                print("\n".join(textwrap.wrap(line, 120, subsequent_indent="      ", break_on_hyphens=False)),
                      file=sys.stderr)
            return 1
    return 0


def _write(args, report, verification) -> None:
    """The files asked for, each whole or not at all; one that cannot be written is BadInput."""
    from blitzbench.analysis import report_export, report_text
    from blitzbench.store import write_atomic

    try:
        if args.markdown:
            body = report_text.render_wide(report, "github") if args.wide else report_text.render(report, "github")
            write_atomic(args.markdown, f"# Comparison of saved runs\n\n{body}\n")
        if args.csv:
            report_export.write_csv(args.csv, report)
        if args.json:
            report_export.write_json(args.json, report)
        if args.plot:
            report_export.plot(args.plot, report)
        if args.html:
            from blitzbench.analysis import report_html
            report_html.write_page(args.html, report, verification)
    except OSError as error:
        raise BadInput(f"{shown(Path(error.filename)) if error.filename else 'an output'}: cannot be written "
                       f"({error.strerror or error})") from None


def _check_json_is_not_read(path: Path | None, inputs: list[Path]) -> None:
    """--json names no .json file the report reads (every one under a folder given is read as a
    possible run), unless it is an earlier report."""
    if path is None or not path.exists():
        return
    target = path.resolve()
    for source in inputs:
        source = source.resolve()
        if source.is_dir() and target.is_relative_to(source) and not _is_report(path):
            raise BadInput(f"--json {shown(path)}: is one of the inputs (a .json file under {shown(source)}, read "
                           "for runs) and not an earlier report; accepted: a new file name")


def _is_report(path: Path) -> bool:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and {"baseline", "series", "records"} <= data.keys()


def _print_skipped(notes: list[str]) -> None:
    """What collect skipped, in one line: how many files, and the first few."""
    if not notes:
        return
    names = [note.removeprefix("skipped ").split(":", 1)[0] for note in notes]
    shown_names = names[0] + (f" and {len(names) - 1} more" if len(names) > 1 else "")
    one = len(names) == 1
    print(f"{PROG}: skipped {len(names)} .json file{'' if one else 's'} that hold{'s' if one else ''} no benchmark run "
          f"({shown_names})", file=sys.stderr)


def _verification(path: Path) -> dict:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadInput(f"--verification {shown(path)}: cannot be read ({error.strerror or error})") from None
    except ValueError:
        raise BadInput(f"--verification {shown(path)}: not JSON; accepted: the verification.json that "
                       "blitzbench verification --save writes") from None
    releases = data.get("releases") if isinstance(data, dict) else None
    lists_of_records = isinstance(data, dict) and all(
        isinstance(data.get(part, []), list) and all(isinstance(item, dict) for item in data.get(part, []))
        for part in ("releases", "known_bugs", "failures", "areas"))
    if not (lists_of_records and isinstance(releases, list)
            and all(isinstance(r.get("env"), str)
                    and all(isinstance(r.get(k, 0), int) for k in ("passed", "failed", "skipped", "known bug"))
                    for r in releases)):
        raise BadInput(f"--verification {shown(path)}: not a table of checks by release; accepted: the "
                       "verification.json that blitzbench verification --save writes")
    return data


def explain_main(p: OneLineParser, args) -> int:
    """--explain CASE A B: where CASE's instructions went between run A and run B."""
    import json

    from blitzbench.analysis import instruction_compare
    from blitzbench.store import write_atomic
    from blitzbench.analysis.saved_runs import collect
    from blitzbench.cases import Case

    if len(args.paths) != 2:
        p.error(f"--explain compares two runs: give A and B (saved runs or folders), not {len(args.paths)} path(s)")
    try:
        check_outputs({"--json": args.json}, inputs=args.paths, suffixes=SUFFIXES)
    except BadInput as error:
        p.error(str(error))
    try:
        Case.parse(args.explain)
    except ValueError as error:
        p.error(f"--explain: {error}")
    try:
        sides = []
        for path in args.paths:
            runs, _ = collect([path])
            found = instruction_compare.profiled_run(runs, args.explain)
            sides.append((path, runs, found))
        if all(found is None for _, _, found in sides):
            have = sorted(set().union(*(instruction_compare.profiled_cases(runs) for _, runs, _ in sides)))
            raise BadInput(f"--explain {args.explain}: neither {shown(args.paths[0])} nor {shown(args.paths[1])} has a "
                           "callgrind profile of that case; "
                           + (f"cases they have: {', '.join(have)}" if have else
                              "they hold none (runs made with --instructions keep one beside them)"))
        for path, runs, found in sides:
            if found is None:
                raise BadInput(f"--explain {args.explain}: {shown(path)} has no callgrind profile of that case "
                               "(runs made with pytest bench --benchmark-only --instructions keep one beside them)")
        (_, _, (run_a, before)), (_, _, (run_b, after)) = sides
        instruction_compare.check_one_setting([run_a, run_b])
        result = instruction_compare.explain(before, after, args.top)
        print(instruction_compare.render_explain(args.explain, f"{shown(run_a.path)} (torch {run_a.torch_version})",
                                                 f"{shown(run_b.path)} (torch {run_b.torch_version})", result,
                                                 args.format))
        if args.json:
            write_atomic(args.json, json.dumps({"case": args.explain, "a": str(run_a.path), "b": str(run_b.path),
                                                **result}, indent=2) + "\n")
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    return 0
