"""Is this torch release correct? The verification suite's results across releases, as one table.

Each environment's run of :data:`SUITE` is kept as pytest's JUnit XML, ``DIR/<env>/verification.xml``,
with the release's versions as the XML's testsuite properties (the plugin records them).
:func:`load_runs` reads them; :func:`build` makes the table (areas by release, the known bugs each
release has, every failure with the decision recorded for it in :data:`KNOWN_DIFFERENCES`, the
skips that some releases have and others do not); :func:`render` writes it as Markdown and
:func:`save` as ``DIR/verification.md`` and ``.json``. Torch-free. The commands that run the suite
and show the table, and what each cell says: ``blitzbench matrix --verify`` (blitzbench.cli.matrix)
and ``blitzbench verification`` (blitzbench.cli.verification).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from blitzbench import known_bugs
from blitzbench.known_bugs import release_key  # versions in release order, shared with the registry
from blitzbench.messages import BadInput, shown
from blitzbench.store import write_atomic

# The verification of a release: bench/'s checks, each benchmark run once untimed; the matrix adds
# --junitxml and the user's arguments. The harness's own tests (tests/) say nothing about the
# release: `make test` runs them, and `--verify --harness-tests` adds them (one row in the table).
SUITE = ["bench", "--benchmark-disable"]
HARNESS_TESTS = "tests"
# How the matrix runs it: a test file that cannot be imported on a release is one error among the
# results, not the end of the run; no cache written into the source tree.
RUN_OPTIONS = ["--continue-on-collection-errors", "-p", "no:cacheprovider"]
RESULT_FILE = "verification.xml"
TABLE_STEM = "verification"
DEFAULT_FOLDER = Path("results") / "tox"  # in the current folder, as the matrix's --results-dir
# "known bug": a strict expected failure, failing as a known bug of the release says it does
# (blitzbench.known_bugs); pytest's xfailed.
OUTCOMES = ("passed", "failed", "skipped", "known bug")
HARNESS_AREA = "tests/ (the harness's own tests)"  # one row for all of tests/, which checks no release
KNOWN_BUG_REASON = re.compile(r"known (torch|torchvision) bug (\S+):")
XPASS = "[XPASS(strict)]"
MESSAGE_LIMIT = 300  # characters of a failure's line kept in the table (the XML keeps it whole)


@dataclass(frozen=True)
class KnownDifference:
    """Where releases before ``changed_in`` differ, in what a check looks at, from the newer ones.

    ``handled`` says how the suite deals with it, so that the check passes on those releases too
    (it is listed beside the table, not as a failure); empty, the check fails there and this is
    the failure's explanation."""

    case: str          # the case id (file::test[params]), where * stands for any text
    changed_in: str    # the first release known to behave as the newer ones, e.g. "2.5"
    explanation: str   # what the release does, with the upstream issue or change where known
    handled: str = ""


# Every failure on a release is decided here or by a change to the suite (docs/verification.md, "Is this
# release correct?"). Found by the first --verify across tox.ini's releases: both on 2.4.1 only.
KNOWN_DIFFERENCES: tuple[KnownDifference, ...] = (
    KnownDifference(
        "tests/test_flops.py::test_flops_per_sample_match_the_hand_count[*-inference-*]", "2.6",
        "FlopCounterMode counts no FLOPs under torch.inference_mode() (pytorch/pytorch#126268, seen on 2.3 and "
        "2.4.1; counted on 2.6.0; 2.5, not in tox.ini, not tried)",
        "blitzbench.measure.flops counts the inference phase under torch.no_grad() in eval mode, the same operations; runs "
        "saved on 2.4.1 before that have no GFLOP/s for inference and their tables say why "
        "(blitzbench.analysis.summary_table.gflops_missing_reason)"),
    KnownDifference(
        "bench/test_modes.py::test_within_a_case_the_compiled_models_share_one_compilation", "2.5",
        "torch.compile guards on each nn.Module instance, so a compiled case compiles once per model built "
        "(3 in the check) instead of once: torch._dynamo.config.inline_inbuilt_nn_modules is off by default "
        "before 2.5 (turned on by pytorch/pytorch#131059; on in 2.6.0)",
        "the check expects one compilation per model where that option is off, so it still fails if a "
        "release compiles a case more often than its guards call for"),
)


@dataclass
class CaseResult:
    case: str      # pytest node id, e.g. bench/test_layers.py::test_conv2d[chapter_net]
    area: str      # the test file (HARNESS_AREA for any file of tests/)
    outcome: str   # one of OUTCOMES
    message: str = ""  # failed: the line that says what differed; skipped or known bug: the reason

    @property
    def known_bug(self) -> str | None:
        """The key of the known bug this case failed by (or, failing XPASS(strict), passed despite)."""
        match = KNOWN_BUG_REASON.search(self.message)
        return match.group(2) if match else None


@dataclass
class ReleaseRun:
    env: str
    properties: dict
    started: str
    seconds: float
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def torch(self) -> str:
        return self.properties.get("torch", "?")

    def versions(self) -> dict[str, str]:
        """The package versions the known-bug registry is read against."""
        return {name: self.properties[name] for name in known_bugs.PACKAGES
                if self.properties.get(name) not in (None, "", "None", "?")}

    def counts(self, area: str | None = None) -> dict[str, int]:
        chosen = [c for c in self.cases if area is None or c.area == area]
        return {outcome: sum(c.outcome == outcome for c in chosen) for outcome in OUTCOMES}


def area_of(path: str) -> str:
    """The table's row of a test file: bench/'s files each, tests/ as one row."""
    return HARNESS_AREA if path.startswith("tests/") else path


def node_id(classname: str, name: str) -> tuple[str, str]:
    """(node id, area) from JUnit's classname ("bench.test_x" or "bench.test_x.TestY") and name.
    A file that could not be imported has an empty classname and the module as its name."""
    if not classname:
        path = name.replace(".", "/") + ".py"
        return path, area_of(path)
    parts = classname.split(".")
    module_end = next((i for i, part in enumerate(parts) if part.startswith("test_")), len(parts) - 1)
    path = "/".join(parts[:module_end + 1]) + ".py"
    return "::".join([path, *parts[module_end + 1:], name]), area_of(path)


def first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= MESSAGE_LIMIT else line[:MESSAGE_LIMIT - 1] + "…"


def read_run(path: Path, env: str) -> ReleaseRun:
    """One environment's JUnit XML (pytest --junitxml)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        raise BadInput(f"{shown(path)}: not a readable JUnit XML file ({error}); "
                       "accepted: what pytest --junitxml writes") from None
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        raise BadInput(f"{shown(path)}: no <testsuite> in it; accepted: what pytest --junitxml writes")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    run = ReleaseRun(env, properties, suite.get("timestamp", ""), float(suite.get("time") or 0))
    for case in suite.iter("testcase"):
        nodeid, area = node_id(case.get("classname", ""), case.get("name", ""))
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if bad is not None:
            kind = "error" if bad.tag == "error" else "failure"
            text = bad.get("message") or bad.text
            message = first_line(text) if kind == "failure" else f"error: {first_line(text)}"
            run.cases.append(CaseResult(nodeid, area, "failed", message))
        elif skipped is not None:
            outcome = "known bug" if skipped.get("type") == "pytest.xfail" else "skipped"
            run.cases.append(CaseResult(nodeid, area, outcome, first_line(skipped.get("message") or skipped.text)))
        else:
            run.cases.append(CaseResult(nodeid, area, "passed"))
    return run


def applies(known: KnownDifference, torch_version: str) -> bool:
    return release_key(torch_version) < release_key(known.changed_in)


def explain(case: str, torch_version: str) -> KnownDifference | None:
    """The decision recorded for a failure of ``case`` on ``torch_version``, if any."""
    for known in KNOWN_DIFFERENCES:
        if known_bugs.node_id_matches(known.case, case) and applies(known, torch_version):
            return known
    return None


def load_runs(folder: Path, envs: list[str] | None = None) -> list[ReleaseRun]:
    """The saved verification runs under ``folder`` (``<env>/verification.xml``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{shown(folder)}: no such folder; accepted: a folder holding <env>/{RESULT_FILE}")
    paths = {p.parent.name: p for p in sorted(folder.glob(f"*/{RESULT_FILE}"))}
    if envs is not None:
        missing = [env for env in envs if env not in paths]
        if missing:
            raise BadInput(f"no {RESULT_FILE} for {', '.join(missing)} under {shown(folder)}; "
                           f"accepted: environments with a saved run ({', '.join(paths) or 'none'})")
        paths = {env: paths[env] for env in envs}
    if not paths:
        raise BadInput(f"no <env>/{RESULT_FILE} under {shown(folder)}; make them with "
                       "blitzbench matrix ENV,ENV --verify")
    return [read_run(path, env) for env, path in paths.items()]


def release_neutral(reason: str, torch_version: str) -> str:
    """A skip reason with the release's own version strings replaced, so that the same reason on
    two releases ("CUDA unavailable: torch 2.4.1+cu121 is built for CUDA 12.1, ...") reads the same."""
    if torch_version and torch_version != "?":
        reason = reason.replace(torch_version, "{torch}")
    return re.sub(r"\bCUDA \d+(\.\d+)*\b", "CUDA {version}", reason)


def build(runs: list[ReleaseRun]) -> dict:
    """The table as data: releases (oldest first), areas with their cells, failures, and skips that
    some releases have and others do not."""
    runs = sorted(runs, key=lambda run: (release_key(run.torch), run.env))
    areas = sorted({c.area for run in runs for c in run.cases})
    failures = []
    for run in runs:
        for c in run.cases:
            if c.outcome == "failed":
                known = explain(c.case, run.torch)
                known = known if known and not known.handled else None  # handled, yet failing: not explained
                failures.append({"env": run.env, "torch": run.torch, "case": c.case, "area": c.area,
                                 "what_differed": c.message, "decision": asdict(known) if known else None,
                                 "passes_despite_known_bug": c.known_bug if c.message.startswith(XPASS) else None})
    skip_reasons: dict[str, dict[str, int]] = {}
    for run in runs:
        for c in run.cases:
            if c.outcome == "skipped":
                reason = release_neutral(c.message, run.torch)
                skip_reasons.setdefault(reason, {}).setdefault(run.env, 0)
                skip_reasons[reason][run.env] += 1
    uneven = {reason: by_env for reason, by_env in skip_reasons.items() if len(by_env) < len(runs)}
    return {
        "releases": [{"env": run.env, "torch": run.torch, "torchvision": run.properties.get("torchvision"),
                      "python": run.properties.get("python"), "suite_commit": run.properties.get("suite_commit"),
                      "torch_threads": run.properties.get("torch_threads"),
                      "started": run.started, "seconds": run.seconds, **run.counts(),
                      "known_bugs": [bug.key for bug in known_bugs.bugs_of(run.versions())]} for run in runs],
        "known_bugs": known_bug_rows(runs),
        "areas": [{"area": area, "cells": {run.env: run.counts(area) for run in runs}} for area in areas],
        "failures": failures,
        "differences": [{**asdict(known), "envs": [run.env for run in runs if applies(known, run.torch)]}
                        for known in KNOWN_DIFFERENCES if any(applies(known, run.torch) for run in runs)],
        "skips_on_some_releases": [{"reason": reason, "cases_by_env": by_env}
                                   for reason, by_env in sorted(uneven.items())],
    }


def outcome_label(result: CaseResult | None) -> str:
    """A check's outcome as the comparison of releases reads it: a known bug by its key, a check
    that a release did not run (it does not exist in that release's run) as "not run"."""
    if result is None:
        return "not run"
    if result.outcome == "known bug":
        return f"known bug {result.known_bug or '?'}"
    return result.outcome


def differing_checks(runs: list[ReleaseRun]) -> list[dict]:
    """The checks whose outcome is not the same on every release, grouped by the outcomes they
    have: ``{"outcomes": {env: label}, "cases": [node ids]}`` (:func:`outcome_label`), the largest
    group first. A skip is a skip whatever its reason (the table's uneven skips name reasons)."""
    by_env = {run.env: {c.case: c for c in run.cases} for run in runs}
    groups: dict[tuple[str, ...], list[str]] = {}
    for case in sorted({case for results in by_env.values() for case in results}):
        labels = tuple(outcome_label(by_env[run.env].get(case)) for run in runs)
        if len(set(labels)) > 1:
            groups.setdefault(labels, []).append(case)
    return [{"outcomes": dict(zip((run.env for run in runs), labels)), "cases": cases}
            for labels, cases in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))]


def known_bug_rows(runs: list[ReleaseRun]) -> list[dict]:
    """Each known bug that any of these releases has (by the registry) or shows (a case failed by
    it): its record, the releases it affects among these, and per release the cases that show it."""
    rows = []
    for bug in known_bugs.KNOWN_BUGS:
        affects = [run.env for run in runs if bug in known_bugs.bugs_of(run.versions())]
        shown_by = {run.env: sorted(c.case for c in run.cases if c.outcome == "known bug" and c.known_bug == bug.key)
                    for run in runs}
        shown_by = {env: cases for env, cases in shown_by.items() if cases}
        if affects or shown_by:
            rows.append({**asdict(bug), "releases_text": bug.releases(), "affects_envs": affects,
                         "cases_by_env": shown_by})
    return rows


def _cell(counts: dict[str, int], fmt: str) -> str:
    if not any(counts.values()):
        return "-"
    failed = f"**{counts['failed']}**" if counts["failed"] and fmt == "github" else str(counts["failed"])
    return f"{counts['passed']} / {failed} / {counts['skipped']} / {counts['known bug']}"


def render(table: dict, fmt: str = "github") -> str:
    """The release table, its failures and its uneven skips, as Markdown (or another tabulate format)."""
    from tabulate import tabulate  # here: blitzbench.matrix imports this module and runs without tabulate

    releases = table["releases"]
    headers = ["area", *[f"{r['env']} ({r['torch']})" for r in releases]]
    rows = [[a["area"], *[_cell(a["cells"].get(r["env"], {}), fmt) for r in releases]] for a in table["areas"]]
    rows.append(["all", *[_cell(r, fmt) for r in releases]])
    lines = [tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True), "",
             "Cells: passed / failed (errors included) / skipped / failing by a known bug of the release "
             "(a strict expected failure, see Known bugs).", ""]
    rows = [[r["env"], r["torch"], r["torchvision"] or "?", r["python"] or "?", r["suite_commit"] or "?",
             r["started"][:16].replace("T", " "), f"{r['seconds'] / 60:.0f} min",
             ", ".join(r.get("known_bugs", [])) or "none"] for r in releases]
    lines.append(tabulate(rows, headers=["release", "torch", "torchvision", "python", "suite commit", "started",
                                         "took", "known bugs"], tablefmt=fmt, disable_numparse=True))
    lines += _render_known_bugs(table.get("known_bugs", []), releases, fmt)
    failures = table["failures"]
    lines += ["", f"## Failures ({len(failures)})", ""]
    if failures:
        rows = [[f["env"], f"`{f['case']}`", f["what_differed"], _decision(f)] for f in failures]
        lines.append(tabulate(rows, headers=["release", "case", "what differed", "decision"], tablefmt=fmt,
                              disable_numparse=True))
    else:
        lines.append("None: every release passes every check it ran.")
    differences = table["differences"]
    if differences:
        lines += ["", "## Differences of releases that the suite handles or explains", ""]
        rows = [[", ".join(d["envs"]), f"`{d['case']}`", f"{d['explanation']} (as the newer releases from {d['changed_in']})",
                 d["handled"] or "not handled: the check fails there (see Failures)"] for d in differences]
        lines.append(tabulate(rows, headers=["releases", "check", "what the release does", "how the suite handles it"],
                              tablefmt=fmt, disable_numparse=True))
    uneven = table["skips_on_some_releases"]
    if uneven:
        lines += ["", "## Skipped on some releases only", ""]
        rows = [[s["reason"], ", ".join(f"{env} ({n})" for env, n in s["cases_by_env"].items())] for s in uneven]
        lines.append(tabulate(rows, headers=["reason", "releases (cases)"], tablefmt=fmt, disable_numparse=True))
    return "\n".join(lines)


def _decision(failure: dict) -> str:
    if failure.get("passes_despite_known_bug"):
        return (f"passes where the known bug {failure['passes_despite_known_bug']} should fail it: the release "
                "may have fixed it; check and update blitzbench.known_bugs")
    decision = failure["decision"]
    if decision:
        return f"difference of the release, as the newer ones from {decision['changed_in']}: {decision['explanation']}"
    return "not explained"


def _render_known_bugs(bugs: list[dict], releases: list[dict], fmt: str) -> list[str]:
    """The known bugs these releases have: a line per bug saying where it appears, then each one's
    record (what is wrong, upstream, the checks that show it per release)."""
    from tabulate import tabulate

    if not bugs:
        return ["", "## Known bugs", "", "None of these releases has a known bug of torch or torchvision "
                "(blitzbench.known_bugs)."]
    lines = ["", f"## Known bugs ({len(bugs)})", "",
             "Bugs of torch and torchvision that these checks found (blitzbench.known_bugs); each check that "
             "shows one is a strict expected failure on exactly the releases it affects.", ""]
    envs = [r["env"] for r in releases]
    rows = [[f"`{b['key']}`", b["upstream"] or "no upstream issue yet (reproducer in the registry)",
             b["releases_text"],
             ", ".join(f"{env} ({len(b['cases_by_env'][env])})" if env in b["cases_by_env"] else f"{env} (not run)"
                       for env in envs if env in b["affects_envs"] or env in b["cases_by_env"])]
            for b in bugs]
    lines.append(tabulate(rows, headers=["bug", "upstream", "affects", "appears in (checks failing by it)"],
                          tablefmt=fmt, disable_numparse=True))
    for b in bugs:
        cases = sorted({case for cases in b["cases_by_env"].values() for case in cases})
        shown = ", ".join(f"`{case}`" for case in cases[:4]) + (f" and {len(cases) - 4} more" if len(cases) > 4 else "")
        lines += ["", f"- **{b['key']}** ({b['package']}): {b['title']}. {b['note']}."
                  + (f" Checks: {shown}." if cases else "")
                  + (f" Reproducer: `{'; '.join(b['reproducer'].splitlines())}`." if b["reproducer"] else "")]
    return lines


def failing_lines(table: dict, envs: list[str] | None = None) -> list[str]:
    """One line per failing case of the given environments (all when None)."""
    return [f"{f['env']} (torch {f['torch']}): {f['case']}" for f in table["failures"]
            if envs is None or f["env"] in envs]


def table_paths(folder: Path) -> tuple[Path, Path]:
    """Where :func:`save` writes: ``folder/verification.md`` and ``.json``."""
    return Path(folder) / f"{TABLE_STEM}.md", Path(folder) / f"{TABLE_STEM}.json"


def save(table: dict, folder: Path) -> tuple[Path, Path]:
    """``folder/verification.md`` and ``.json``, each written whole or not at all."""
    md_path, json_path = table_paths(folder)
    md = write_atomic(md_path,
                      "# Verification suite by torch release\n\n"
                      "Made by `blitzbench matrix ENV,ENV --verify` (or `blitzbench verification --save`) "
                      "from each environment's `<env>/verification.xml`.\n\n" + render(table) + "\n")
    js = write_atomic(json_path, json.dumps(table, indent=2) + "\n")
    return md, js
