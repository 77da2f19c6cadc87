"""The summary ``blitzbench compare`` prints and saves: both answers for the releases compared.

Is it correct: each release's counts of checks, the checks whose outcome differs between the
releases (blitzbench.analysis.verification.differing_checks) and the known bugs they have. What
did it change in speed: the report of the counted runs and the timed rounds (blitzbench.analysis.
comparison, rendered by blitzbench.analysis.report_text: instruction ratios and their verdicts per
case, time verdicts where rounds were run), then, for the few cases whose counts changed most,
the functions behind the change (what ``blitzbench report --explain`` prints). Torch-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from blitzbench.analysis import instruction_compare, report_text, verdicts, verification
from blitzbench.analysis.comparison import Report

EXPLAINED_CASES = 3  # per compared release: the cases whose counts changed most, among those called
EXPLAINED_FUNCTIONS = 5  # functions per table of each explained case
EXAMPLE_CHECKS = 3  # checks named per group of differing checks


@dataclass(frozen=True)
class Explained:
    series: str  # the compared series' label
    case_id: str
    before_label: str
    after_label: str
    result: dict  # instruction_compare.explain


def changed_most(report: Report, limit: int = EXPLAINED_CASES) -> list[tuple[object, object]]:
    """(side, case) of the cases whose counts were called "more" or "fewer", the largest change
    (by |log ratio|) first, at most ``limit`` per compared series."""
    chosen = []
    for side in report.others():
        called = [(key, c) for key, c in side.counts.items() if c.verdict in ("more", "fewer")]
        called.sort(key=lambda item: (-abs(math.log(item[1].ratio)), str(item[0])))
        chosen += [(side, key) for key, _ in called[:limit]]
    return chosen


def explain_changes(report: Report, limit: int = EXPLAINED_CASES) -> tuple[list[Explained], list[str]]:
    """The explained cases, and a line for each chosen case that has no profile on one side."""
    explained, missing = [], []
    for side, key in changed_most(report, limit):
        case_id = key.id
        before = instruction_compare.profiled_run(report.baseline.runs, case_id)
        after = instruction_compare.profiled_run(side.series.runs, case_id)
        if before is None or after is None:
            missing.append(f"{case_id} ({side.series.label}): no callgrind profile of it on "
                           f"{'either side' if before is None and after is None else 'one side'}")
            continue
        (run_a, profile_a), (run_b, profile_b) = before, after
        explained.append(Explained(side.series.label, case_id, f"{report.baseline.label} ({run_a.path.name})",
                                   f"{side.series.label} ({run_b.path.name})",
                                   instruction_compare.explain(profile_a, profile_b, EXPLAINED_FUNCTIONS)))
    return explained, missing


def correctness_lines(table: dict, differing: list[dict], fmt: str) -> list[str]:
    """Each release's checks, the checks whose outcome differs, the known bugs."""
    from tabulate import tabulate

    lines = []
    for r in table["releases"]:
        counts = {o: r[o] for o in verification.OUTCOMES}
        threads = r.get("torch_threads")
        lines.append(f"{r['env']} (torch {r['torch']}): " + ", ".join(
            f"{counts[o]} {'failing by known bugs' if o == 'known bug' else o}" for o in verification.OUTCOMES)
            + (f" ({verdicts.plural(int(threads), 'intra-op thread')})" if threads and threads.isdigit() else ""))
    failures = table["failures"]
    if failures:
        lines += ["", f"FAILED: {len(failures)} check{'s' * (len(failures) != 1)} (a failure is a finding: "
                  "decide whether torch is wrong there or the check assumed too much):"]
        lines += [f"  {f['env']} (torch {f['torch']}): {f['case']}: {f['what_differed']}" for f in failures]
    envs = [r["env"] for r in table["releases"]]
    lines.append("")
    if not differing:
        lines.append("checks whose outcome differs between the releases: none")
    else:
        total = sum(len(g["cases"]) for g in differing)
        lines.append(f"checks whose outcome differs between the releases: {total}, in {len(differing)} "
                     f"group{'s' * (len(differing) != 1)}")
        rows = []
        for g in differing:
            cases = g["cases"]
            examples = ", ".join(cases[:EXAMPLE_CHECKS]) + (f" and {len(cases) - EXAMPLE_CHECKS} more"
                                                            if len(cases) > EXAMPLE_CHECKS else "")
            rows.append([len(cases), *[g["outcomes"][env] for env in envs], examples])
        lines += ["", tabulate(rows, headers=["checks", *envs, "for example"], tablefmt=fmt,
                               disable_numparse=True)]
    bugs = table.get("known_bugs", [])
    lines.append("")
    if bugs:
        lines.append("known bugs of these releases (blitzbench.known_bugs; each shown by strict expected failures):")
        lines += [f"  {b['key']} ({b['upstream'] or 'no upstream issue yet'}): {b['releases_text']}; in "
                  + (", ".join(b["affects_envs"]) or "none of these by the registry") for b in bugs]
    else:
        lines.append("known bugs of these releases: none")
    return lines


def render(table: dict, differing: list[dict], report: Report, explained: list[Explained], missing: list[str],
           fmt: str = "simple") -> str:
    markdown = fmt in ("github", "pipe")
    heading = (lambda text: ["", f"## {text}", ""]) if markdown else (lambda text: ["", f"== {text} ==", ""])
    lines = ["# blitzbench compare"] if markdown else []
    lines += heading("Is it correct? The verification of torch (bench/'s checks)")
    if not markdown:
        lines = lines[1:]
    lines += correctness_lines(table, differing, fmt)
    lines += heading("What did it change in speed? Instruction counts, and times where rounds were run")
    lines.append(report_text.render(report, fmt))
    if explained or missing:
        lines += heading("Where the instructions went, in the cases that changed most")
        for e in explained:
            lines += [instruction_compare.render_explain(e.case_id, e.before_label, e.after_label, e.result, fmt), ""]
        lines += [f"not explained: {line}" for line in missing]
    return "\n".join(lines).rstrip("\n") + "\n"
