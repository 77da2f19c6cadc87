"""The documentation holds: the README is a front page of at most 200 lines, every relative link
in it, in docs/ and in the changelog resolves, the options page lists exactly the options
``pytest --help`` shows under "blitzbench", and ``blitzbench --help`` lists every subcommand,
each of which answers ``--help``."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from blitzbench.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def test_docs_has_a_page_per_topic():
    topics = {"benchmarks", "verification", "releases", "gpu", "distributed", "training", "results", "options"}
    assert topics <= {p.stem for p in (ROOT / "docs").glob("*.md")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^(https?:|mailto:|#)", target):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert broken == []


def test_the_link_check_sees_a_broken_link():
    assert LINK.findall("see [a](docs/none.md) and [b](https://x.org)") == ["docs/none.md", "https://x.org"]


def suite_options() -> set[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    section = done.stdout.split("\nblitzbench", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^\s{2}(--[a-z-]+)", section, re.M))


def test_the_options_page_lists_exactly_the_suites_options():
    page = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(--[a-z-]+)", page, re.M))
    shown = suite_options()
    assert len(shown) >= 15  # the section was found
    assert listed == shown, f"on the page only: {listed - shown}; in --help only: {shown - listed}"


def test_blitzbench_help_lists_every_subcommand_and_each_answers_help():
    done = subprocess.run([sys.executable, "-m", "blitzbench", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    listed = re.findall(r"^  (\S+)  ", done.stdout, re.M)
    assert listed == list(cli.SUBCOMMANDS) and len(listed) >= 9
    for name in cli.SUBCOMMANDS:
        sub = subprocess.run([sys.executable, "-m", "blitzbench", name, "--help"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
        assert sub.returncode == 0 and f"blitzbench {name}" in sub.stdout, (name, sub.stderr[-500:])


def test_an_unknown_subcommand_is_one_line_and_exit_2(capsys):
    assert cli.main(["repot"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown subcommand 'repot'; accepted: report, matrix" in err
