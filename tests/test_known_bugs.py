"""blitzbench.known_bugs: which releases a bug affects, which checks show it, the plugin turning
those checks into strict expected failures on exactly those releases, and the release table
listing each release's known bugs (blitzbench.analysis.verification)."""

import builtins
import re

import pytest

from blitzbench import known_bugs
from blitzbench.analysis import verification
from blitzbench.known_bugs import KnownBug
from blitzbench.testing import run_planted_suite

# A planted suite whose conftest replaces the registry before collection: one bug the running torch
# has (its check fails: expected), one it has by the registry but whose check passes (a fix the
# registry does not know of: XPASS(strict), a failure), one fixed before the running torch (its
# check fails plainly), and a harness test under tests/, which the registry never marks.
PLANTED_CONFTEST = """
    from blitzbench import known_bugs
    from blitzbench.known_bugs import KnownBug

    known_bugs.KNOWN_BUGS = (
        KnownBug("planted-wrong-sum", "adds wrong", ("bench/test_p.py::test_wrong_sum[*]",), "1.0", None,
                 upstream="https://example.invalid/1"),
        KnownBug("planted-fixed-quietly", "was wrong", ("bench/test_p.py::test_fixed_quietly",), "1.0", None),
        KnownBug("planted-old", "wrong before 2.0", ("bench/test_p.py::test_old", "tests/test_h.py::*"), "1.0", "2.0"),
        KnownBug("planted-raising", "raises", ("bench/test_p.py::test_other_failure",), "1.0", None, raises="RuntimeError"),
    )
    pytest_plugins = ["blitzbench.plugin.suite"]
"""
PLANTED_TESTS = {
    "bench/test_p.py": """
        import pytest

        @pytest.mark.parametrize("n", [1, 2])
        def test_wrong_sum(n):
            assert n + n == 5

        def test_fixed_quietly():
            pass

        def test_old():
            assert 1 == 2

        def test_right():
            pass

        def test_other_failure():
            assert "a wrong number" == "where the bug raises"
    """,
    "tests/test_h.py": "def test_harness():\n    assert False\n",
}
REGISTRY = (
    KnownBug("planted-wrong-sum", "adds wrong", ("bench/test_p.py::test_wrong_sum[*]",), "1.0", None,
             upstream="https://example.invalid/1"),
    KnownBug("planted-fixed-quietly", "was wrong", ("bench/test_p.py::test_fixed_quietly",), "1.0", None),
    KnownBug("planted-old", "wrong before 2.0", ("bench/test_p.py::test_old", "tests/test_h.py::*"), "1.0", "2.0"),
    KnownBug("planted-raising", "raises", ("bench/test_p.py::test_other_failure",), "1.0", None, raises="RuntimeError"),
)


def test_a_bug_affects_exactly_its_releases():
    bug = KnownBug("b", "t", ("x",), first_affected="2.4", fixed_in="2.14")
    assert [v for v in ["2.3.1", "2.4.0", "2.4.1+cu121", "2.10.0", "2.13.9", "2.14.0", "2.14.1", "2.15.0"]
            if bug.affects(v)] == ["2.4.0", "2.4.1+cu121", "2.10.0", "2.13.9"]
    unfixed = KnownBug("b", "t", ("x",), first_affected="0.19", fixed_in=None, package="torchvision")
    assert unfixed.affects("0.29.2") and not unfixed.affects("0.18.0")
    assert known_bugs.bugs_of({"torch": "2.15.0"}, (unfixed,)) == []  # no torchvision version: no torchvision bug
    assert known_bugs.bugs_of({"torchvision": "0.21.0"}, (unfixed,)) == [unfixed]
    assert bug.releases() == "torch 2.4 to before 2.14 (fixed in 2.14)"


def test_check_patterns_match_whole_node_ids():
    bug = KnownBug("b", "t", ("bench/test_o.py::test_step[cpu-sgd-momentum*-fused-float16]",), "2.4", None)
    assert bug.shows_in("bench/test_o.py::test_step[cpu-sgd-momentum0.9-nesterov-fused-float16]")
    assert not bug.shows_in("bench/test_o.py::test_step[cpu-sgd-lr0-fused-float16]")
    assert not bug.shows_in("bench/test_o.py::test_step[cpu-sgd-momentum0.9-fused-float16]-extra")
    assert not bug.shows_in("bench/test_o.py::test_step[cuda-sgd-momentum0.9-fused-float16]")


def test_the_registry_is_well_formed():
    keys = [bug.key for bug in known_bugs.KNOWN_BUGS]
    assert len(keys) == len(set(keys))
    for bug in known_bugs.KNOWN_BUGS:
        assert bug.package in known_bugs.PACKAGES
        assert bug.upstream.startswith("https://github.com/pytorch/") or bug.reproducer, bug.key
        assert bug.fixed_in is None or known_bugs.release_key(bug.fixed_in) > known_bugs.release_key(bug.first_affected)
        assert all(check.startswith("bench/test_") and "::" in check for check in bug.checks), bug.key
        assert issubclass(getattr(builtins, bug.raises), Exception), bug.key


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    files = {"conftest.py": PLANTED_CONFTEST, **PLANTED_TESTS}
    xml, done = run_planted_suite(tmp_path_factory.mktemp("planted_bugs"), files, "-rX")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    return verification.read_run(xml, "torch215"), done.stdout


def test_the_plugin_expects_failure_exactly_where_the_registry_says(planted_run):
    run, printed = planted_run
    by_case = {c.case: c for c in run.cases}
    for n in (1, 2):
        case = by_case[f"bench/test_p.py::test_wrong_sum[{n}]"]
        assert case.outcome == "known bug" and case.known_bug == "planted-wrong-sum"
        assert "https://example.invalid/1" in case.message
    quietly = by_case["bench/test_p.py::test_fixed_quietly"]
    assert quietly.outcome == "failed" and quietly.message.startswith(verification.XPASS)
    assert quietly.known_bug == "planted-fixed-quietly"
    assert by_case["bench/test_p.py::test_old"].outcome == "failed"  # fixed before this torch: a plain failure
    assert by_case["bench/test_p.py::test_old"].known_bug is None
    assert by_case["bench/test_p.py::test_right"].outcome == "passed"
    # a known bug's check failing another way (an assertion where the bug raises) is a failure
    assert by_case["bench/test_p.py::test_other_failure"].outcome == "failed"
    assert by_case["tests/test_h.py::test_harness"].outcome == "failed"  # the harness's tests are never marked
    assert "2 xfailed" in printed


def test_the_release_table_lists_each_releases_known_bugs(planted_run, monkeypatch):
    run, _ = planted_run
    monkeypatch.setattr(known_bugs, "KNOWN_BUGS", REGISTRY)
    run.properties = {"torch": "2.15.0", "torchvision": "0.29.2"}
    old = verification.ReleaseRun("torch15", {"torch": "1.5.0"}, "", 1.0,
                                  [verification.CaseResult("bench/test_p.py::test_right", "bench/test_p.py", "passed")])
    table = verification.build([run, old])
    assert [r["known_bugs"] for r in table["releases"]] == [
        ["planted-wrong-sum", "planted-fixed-quietly", "planted-old", "planted-raising"],
        ["planted-wrong-sum", "planted-fixed-quietly", "planted-raising"]]
    rows = {b["key"]: b for b in table["known_bugs"]}
    assert rows["planted-wrong-sum"]["cases_by_env"] == {"torch215": ["bench/test_p.py::test_wrong_sum[1]",
                                                                      "bench/test_p.py::test_wrong_sum[2]"]}
    assert rows["planted-wrong-sum"]["affects_envs"] == ["torch15", "torch215"]
    (xpass,) = [f for f in table["failures"] if f["passes_despite_known_bug"]]
    assert xpass["case"] == "bench/test_p.py::test_fixed_quietly"
    page = re.sub(r" +", " ", verification.render(table))
    assert "## Known bugs (4)" in page
    assert "| `planted-wrong-sum` | https://example.invalid/1 | torch 1.0 and every newer release tried | torch15 (not run), torch215 (2) |" in page
    assert "passes where the known bug planted-fixed-quietly should fail it" in page
    assert "| bench/test_p.py | 1 / 0 / 0 / 0 | 1 / **3** / 0 / 2 |" in page  # oldest release first
    assert f"| {verification.HARNESS_AREA} |" in page
