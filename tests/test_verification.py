"""blitzbench.analysis.verification: pytest's JUnit XML read case by case, the table of checks by release, the
decisions recorded for failures, and bad input (the matrix's --verify is tested in test_matrix)."""

import json
import subprocess
import sys

import pytest

from blitzbench import ROOT
from blitzbench.analysis import verification
from blitzbench.cli import verification as command
from blitzbench.testing import run_planted_suite
from blitzbench.analysis.verification import CaseResult, KnownDifference, ReleaseRun

# A tiny suite with each outcome pytest's JUnit XML can record, and a file that cannot be imported.
PLANTED = {
    "bench/test_kinds.py": """
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("fixture broke")

        def test_passes():
            assert 1 + 1 == 2

        @pytest.mark.parametrize("n", [1, 2])
        def test_fails_for_two(n):
            assert n == 1

        def test_skips():
            pytest.skip("needs torch 2.5 or newer (this is 2.4.1)")

        def test_setup_errors(broken):
            pass

        class TestGroup:
            def test_in_a_class(self):
                pass
    """,
    "tests/test_cannot_import.py": "import a_module_no_release_has\n",
}


@pytest.fixture(scope="module")
def planted_xml(tmp_path_factory):
    xml, done = run_planted_suite(tmp_path_factory.mktemp("planted"), PLANTED, "-p", "no:benchmark")
    assert done.returncode == 1, done.stdout[-2000:]
    return xml


def test_a_real_junit_file_is_read_case_by_case(planted_xml):
    run = verification.read_run(planted_xml, "torch24")
    by_case = {c.case: c for c in run.cases}
    assert by_case["bench/test_kinds.py::test_passes"].outcome == "passed"
    assert by_case["bench/test_kinds.py::TestGroup::test_in_a_class"].outcome == "passed"
    assert by_case["bench/test_kinds.py::test_fails_for_two[1]"].outcome == "passed"
    two = by_case["bench/test_kinds.py::test_fails_for_two[2]"]
    assert two.outcome == "failed" and "assert 2 == 1" in two.message and "\n" not in two.message
    skip = by_case["bench/test_kinds.py::test_skips"]
    assert skip.outcome == "skipped" and skip.message == "needs torch 2.5 or newer (this is 2.4.1)"
    setup = by_case["bench/test_kinds.py::test_setup_errors"]
    assert setup.outcome == "failed" and setup.message.startswith("error: failed on setup")
    broken = by_case["tests/test_cannot_import.py"]  # collected as an error, the rest still ran
    assert broken.outcome == "failed" and broken.area == verification.HARNESS_AREA  # tests/ is one row
    assert run.counts("bench/test_kinds.py") == {"passed": 3, "failed": 2, "skipped": 1, "known bug": 0}
    assert run.counts() == {"passed": 3, "failed": 3, "skipped": 1, "known bug": 0}
    assert run.properties == {} and run.torch == "?"  # no blitzbench conftest there: nothing recorded


def test_node_ids_from_junit_classnames():
    assert verification.node_id("bench.test_layers", "test_conv[bs4]") == (
        "bench/test_layers.py::test_conv[bs4]", "bench/test_layers.py")
    assert verification.node_id("tests.test_x.TestY", "test_z") == ("tests/test_x.py::TestY::test_z", verification.HARNESS_AREA)
    assert verification.node_id("", "tests.test_broken") == ("tests/test_broken.py", verification.HARNESS_AREA)


def test_releases_sort_by_version_not_by_text():
    versions = ["2.10.0+cu128", "2.4.1+cu121", "2.8.0", "2.15.0"]
    assert sorted(versions, key=verification.release_key) == ["2.4.1+cu121", "2.8.0", "2.10.0+cu128", "2.15.0"]


def _run(env, torch, outcomes):
    run = ReleaseRun(env, {"torch": torch, "suite_commit": "abc1234"}, "2026-12-01T10:00:00", 120.0)
    run.cases = [CaseResult(case, case.split("::")[0], outcome, message) for case, outcome, message in outcomes]
    return run


def test_a_known_difference_decides_a_failure_only_on_the_releases_before_it_changed(monkeypatch):
    known = KnownDifference("bench/test_a.py::test_x[*]", "2.5", "torch before 2.5 did this differently")
    monkeypatch.setattr(verification, "KNOWN_DIFFERENCES", (known,))
    failing = [("bench/test_a.py::test_x[bs4]", "failed", "assert 0 == 1"),
               ("bench/test_a.py::test_y", "failed", "assert 2 == 3")]
    table = verification.build([_run("torch26", "2.6.0", failing), _run("torch24", "2.4.1+cu121", failing)])
    assert [r["env"] for r in table["releases"]] == ["torch24", "torch26"]  # release order
    decided = {(f["env"], f["case"]): f["decision"] for f in table["failures"]}
    assert decided[("torch24", "bench/test_a.py::test_x[bs4]")]["changed_in"] == "2.5"
    assert decided[("torch26", "bench/test_a.py::test_x[bs4]")] is None  # 2.6 should pass it: not explained
    assert decided[("torch24", "bench/test_a.py::test_y")] is None
    page = verification.render(table)
    assert "difference of the release, as the newer ones from 2.5: torch before 2.5 did this differently" in page
    assert page.count("not explained") == 3


def test_differences_the_suite_handles_are_listed_for_the_releases_they_apply_to(monkeypatch):
    handled = KnownDifference("bench/test_a.py::test_x", "2.5", "2.4 compiles per model", "the check expects that")
    monkeypatch.setattr(verification, "KNOWN_DIFFERENCES", (handled,))
    runs = [_run("torch24", "2.4.1", [("bench/test_a.py::test_x", "failed", "assert 3 == 1")]),
            _run("torch26", "2.6.0", [("bench/test_a.py::test_x", "passed", "")])]
    table = verification.build(runs)
    assert [d["envs"] for d in table["differences"]] == [["torch24"]]
    (failure,) = table["failures"]
    assert failure["decision"] is None  # said to be handled, yet failing: not explained away
    page = verification.render(table)
    assert "2.4 compiles per model (as the newer releases from 2.5)" in page and "the check expects that" in page
    only_new = verification.build(runs[1:])
    assert only_new["differences"] == []  # not listed where no release in the table has it


def test_the_recorded_differences_name_real_cases():
    """Each recorded difference's pattern matches a case the suite has (a renamed test would
    leave its explanation pointing at nothing)."""
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                "tests/test_flops.py", "bench/test_modes.py"],
                               capture_output=True, text=True, timeout=300, cwd=ROOT)
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    for known in verification.KNOWN_DIFFERENCES:
        assert any(verification.explain(case, "2.4.1") == known for case in ids), known.case
        assert not any(verification.explain(case, known.changed_in) == known for case in ids)


def test_a_skip_reason_that_names_its_own_release_is_the_same_reason_on_every_release():
    def cuda_skip(env, torch, cuda):
        reason = f"CUDA unavailable: torch {torch} is built for CUDA {cuda}, but torch.cuda.is_available() is False"
        return _run(env, torch, [("a/test_d.py::t[cuda]", "skipped", reason)])

    table = verification.build([cuda_skip("torch24", "2.4.1+cu121", "12.1"), cuda_skip("torch215", "2.15.0+cu132", "13.2")])
    assert table["skips_on_some_releases"] == []
    assert verification.release_neutral("torch 2.4.1+cu121 is built for CUDA 12.1", "2.4.1+cu121") == (
        "torch {torch} is built for CUDA {version}")


def test_cells_count_each_outcome_per_area_and_skips_on_some_releases_are_listed():
    old = _run("torch24", "2.4.1", [("a/test_p.py::t1", "passed", ""), ("a/test_p.py::t2", "skipped", "old torch"),
                                    ("a/test_q.py::t3", "skipped", "no CUDA")])
    new = _run("torch215", "2.15.0", [("a/test_p.py::t1", "passed", ""), ("a/test_p.py::t2", "passed", ""),
                                      ("a/test_q.py::t3", "skipped", "no CUDA")])
    table = verification.build([old, new])
    cells = {a["area"]: a["cells"] for a in table["areas"]}
    assert cells["a/test_p.py"]["torch24"] == {"passed": 1, "failed": 0, "skipped": 1, "known bug": 0}
    assert cells["a/test_p.py"]["torch215"] == {"passed": 2, "failed": 0, "skipped": 0, "known bug": 0}
    assert table["skips_on_some_releases"] == [{"reason": "old torch", "cases_by_env": {"torch24": 1}}]
    assert "None: every release passes every check it ran." in verification.render(table)


def test_the_command_prints_the_table_and_saves_it_only_with_save(tmp_path, planted_xml, capsys):
    (tmp_path / "torch24").mkdir()
    (tmp_path / "torch24" / "verification.xml").write_bytes(planted_xml.read_bytes())
    assert command.main([str(tmp_path)]) == 1  # the planted failures
    out = capsys.readouterr().out
    assert "bench/test_kinds.py" in out and "saved:" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["torch24"]  # it only read
    assert command.main([str(tmp_path), "--save"]) == 1
    assert "saved:" in capsys.readouterr().out
    saved = json.loads((tmp_path / "verification.json").read_text())
    assert len(saved["failures"]) == 3 and (tmp_path / "verification.md").exists()


@pytest.mark.parametrize("setup, args, says", [
    (None, ["{tmp}/absent"], "no such folder; accepted: a folder holding <env>/verification.xml"),
    (None, ["{tmp}"], "no <env>/verification.xml under"),
    ("torch24/verification.xml", ["{tmp}"], "not a readable JUnit XML file"),
    ("torch24/verification.xml", ["{tmp}", "--envs", "torch26"], "no verification.xml for torch26"),
    ("torch24/verification.xml", ["{tmp}", "--envs", "torch24", "--save"], "accepted: --save without --envs"),
    ("verification.md/x", ["{tmp}", "--save"], "--save {tmp}/verification.md: is a folder"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, setup, args, says):
    if setup:
        (tmp_path / setup).parent.mkdir(parents=True)
        (tmp_path / setup).write_text("<testsuites><testsuite")  # cut short
    assert command.main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says.format(tmp=tmp_path) in err, err
    assert not (tmp_path / "verification.md").is_file() and not (tmp_path / "verification.json").exists()
