"""Every report command the README and docs/ show gives what they say: each runnable command is
run over the committed results, the figures the pages quote from it are found in what it prints,
the release tables of docs/results.md are checked cell by cell against its JSON, and the
committed reports are what `tox -e report`'s commands make now."""

import configparser
import json
import re
import shlex
from pathlib import Path

import pytest

from blitzbench.cli import report

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OUTPUT_OPTIONS = ("--json", "--csv", "--markdown", "--plot", "--html")
PLACEHOLDER = re.compile(r"^\[?[A-Z][A-Z0-9_]*(\.[a-z]+)?\]?$|\.\.\.")  # OLD.json, A, CASE, [PATH, ...

COUNTS = "results/tox/instructions"
# command as the pages show it -> the figures they quote from its output (verbatim)
QUOTED = {
    "blitzbench report": [],
    "blitzbench report results/tox --baseline torch24": [
        "0.929 [0.790, 1.268]", "1.063 [0.889, 1.196]", "0.888 [0.820, 1.037]",
        "1.30 [1.08, 1.55]", "1.21 [1.12, 1.32]", "1.48 [1.06, 1.55]",
        "0.78 [0.74, 0.92]", "0.66 [0.64, 0.95]", "0.83 [0.72, 0.94]"],
    "blitzbench report results/tox --baseline 2.11.0": [
        "1.075 [0.983, 1.179]", "1.21 [1.05, 1.42]", "1.20 [1.07, 1.52]", "0.75 [0.61, 0.92]"],
    "blitzbench report results/tox/instructions --baseline torch24": [
        "1.0469", "1.0839", "1.0636", "1.0614"],
    "blitzbench report results/tox --baseline torch24 --html report.html --verification results/tox/verification.json": [],
    f"blitzbench report {COUNTS}/torch24 {COUNTS}/torch26 --explain chapter_net-cpu-bs64-forward": [
        "-1,873,060", "+4,238,399", "+109.7%"],
    f"blitzbench report {COUNTS}/torch26 {COUNTS}/torch28 --explain chapter_net-cpu-bs64-backward": [
        "+1,716,864", "+17.9%"],
    f"blitzbench report {COUNTS}/torch28 {COUNTS}/torch210 --explain chapter_net-cpu-bs4-step": [
        "+8,550", "+281.2%"],
    f"blitzbench report {COUNTS}/torch210 {COUNTS}/torch211 --explain chapter_net-cpu-bs4-step": [
        "-14,599", "-21.1%"],
    f"blitzbench report {COUNTS}/torch212 {COUNTS}/torch214 --explain chapter_net-cpu-bs4-step": [
        "-5,700", "-49.2%"],
}


def documented_commands() -> dict[str, list[Path]]:
    """`blitzbench report ...` in code blocks and inline code of the pages -> the pages showing it."""
    found: dict[str, list[Path]] = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S)
        lines = [line for block in blocks for line in block.splitlines()]
        lines += re.findall(r"`(blitzbench report[^`]*)`", text)
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line.startswith("blitzbench report"):
                found.setdefault(" ".join(line.split()), []).append(page)
    return found


def runnable(command: str) -> bool:
    """Whether every argument is real (no placeholder such as OLD.json, A, CASE or [PATH ...])."""
    return not any(PLACEHOLDER.search(token) for token in shlex.split(command)[2:])


def run(command: str, tmp_path: Path, capsys, *extra: str) -> str:
    """The command as a user runs it from the repository root, its outputs sent to tmp_path."""
    argv = shlex.split(command)[2:]
    for i, token in enumerate(argv[:-1]):
        if token in OUTPUT_OPTIONS:
            argv[i + 1] = str(tmp_path / Path(argv[i + 1]).name)
    status = report.main([*argv, *extra])
    out = capsys.readouterr().out
    assert status == 0, out[-2000:]
    return out


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_every_runnable_documented_command_is_checked():
    shown = {c for c in documented_commands() if runnable(c)}
    assert shown == set(QUOTED), "a report command in the docs is not checked here, or one checked is gone"


@pytest.mark.parametrize("command", sorted(QUOTED))
def test_a_documented_command_prints_what_the_docs_quote(command, tmp_path, capsys, at_root):
    out = run(command, tmp_path, capsys)
    pages_text = "".join(page.read_text(encoding="utf-8") for page in documented_commands()[command])
    for figure in QUOTED[command]:
        assert figure in pages_text, f"{figure} is not quoted where the command is shown"
        assert figure in out, f"{figure} is not what `{command}` prints"


def _table_rows(page: Path, header: str) -> list[list[str]]:
    """The rows of the Markdown table in ``page`` whose header line starts with ``header``."""
    lines = page.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_count_table_of_results_md_is_what_the_report_gives(tmp_path, capsys, at_root):
    run("blitzbench report results/tox/instructions --baseline torch24", tmp_path, capsys,
        "--json", str(tmp_path / "counts.json"))
    saved = json.loads((tmp_path / "counts.json").read_text())
    records = {(r["torch_version"].split("+")[0], r["case"]): r for r in saved["records"]}
    series = {s["torch_version"].split("+")[0]: s for s in saved["series"]}
    count_rows = _table_rows(ROOT / "docs" / "results.md", "| release | forward bs4 / bs64 |")
    assert [row[0] for row in count_rows] == ["2.4.1", "2.6.0", "2.8.0", "2.10.0", "2.11.0", "2.12.1", "2.14.1", "2.15.0"]
    for release, *phases, summary in count_rows:
        for phase, cell in zip(("forward", "backward", "step", "train_step"), phases):
            small, large = (records[(release, f"chapter_net-cpu-bs{bs}-{phase}")] for bs in (4, 64))
            if release == "2.4.1":
                expected = f"{small['instructions_per_call']:,.0f} / {large['instructions_per_call']:,.0f}"
            else:
                expected = f"{small['instructions_ratio']:.4f} / {large['instructions_ratio']:.4f}"
            assert cell == expected, (release, phase)
        if release != "2.4.1":
            s = series[release]
            c = s["instructions_verdict_counts"]
            assert summary == (f"{s['instructions_ratio']:.4f} {s['instructions_verdict']}; "
                               f"{c['more']} more, {c['fewer']} fewer, {c['same']} same")


def test_the_time_table_of_results_md_is_what_the_report_gives(tmp_path, capsys, at_root):
    run("blitzbench report results/tox --baseline torch24", tmp_path, capsys, "--json", str(tmp_path / "times.json"))
    saved = json.loads((tmp_path / "times.json").read_text())
    # The timed series of each release (its counted runs, made on another machine, are a series apart).
    series = {s["torch_version"].split("+")[0]: s for s in saved["series"] if s.get("ratio") is not None}
    rows = _table_rows(ROOT / "docs" / "results.md", "| release | geometric mean [95% interval] |")
    assert [row[0] for row in rows] == ["2.11.0", "2.14.1", "2.15.0"]
    for release, interval, verdict, called in rows:
        s = series[release]
        assert interval == f"{s['ratio']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}]" and verdict == s["verdict"]
        calls = {v: n for v, n in s["verdict_counts"].items() if v in ("faster", "slower")}
        assert called == "none of 42" if not calls else called.startswith(
            ", ".join(f"{n} {v}" for v, n in calls.items()) + ":"), release


def _tox_report_commands() -> list[list[str]]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    lines = [line.strip() for line in config["testenv:report"]["commands"].splitlines() if line.strip()]
    # after `python -m blitzbench report`, without tox's {posargs}
    return [[token for token in shlex.split(line)[4:] if token != "{posargs}"] for line in lines]


def test_the_committed_reports_are_what_the_code_makes_now(tmp_path, capsys, at_root):
    """`tox -e report`'s commands, their outputs sent to tmp_path: each committed Markdown, JSON and
    HTML report is byte for byte what they make (the PNG is left out: its bytes carry matplotlib's
    version)."""
    compared = []
    for argv in _tox_report_commands():
        committed = {}
        for i, token in enumerate(argv[:-1]):
            if token in OUTPUT_OPTIONS:
                committed[tmp_path / f"{len(compared)}-{Path(argv[i + 1]).name}"] = ROOT / argv[i + 1]
                argv[i + 1] = str(next(reversed(committed)))
        assert report.main(argv) == 0
        capsys.readouterr()
        for made, kept in committed.items():
            if kept.suffix != ".png":
                assert made.read_bytes() == kept.read_bytes(), f"{kept.relative_to(ROOT)} is not what the code makes now"
                compared.append(kept.relative_to(ROOT).as_posix())
    assert {"results/tox/report.md", "results/tox/report.html", "results/tox/instructions/report.md",
            "results/tox/instructions/report.json"} <= set(compared)


@pytest.mark.parametrize("committed", ["results/tox/report.md", "results/tox/instructions/report.md"])
def test_the_committed_reports_fit_120_columns(committed):
    assert max(map(len, (ROOT / committed).read_text(encoding="utf-8").splitlines())) <= 120
