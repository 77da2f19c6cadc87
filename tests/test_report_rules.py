"""blitzbench report over the runs recorded on the project's machine (tests/data/recorded/, see its
README): nothing saved is lost to an output, counted runs never enter a time verdict, and runs
from two machines are said to be so, the baseline taken from the machine with the most runs."""

import json
import shutil
from pathlib import Path

import pytest

from blitzbench.cli import report

RECORDED = Path(__file__).resolve().parent / "data" / "recorded"
INTERLEAVED = RECORDED / "torch-2.11-vs-2.14-interleaved"
COUNTED = RECORDED / "counted-torch24-vs-torch214"
H100 = RECORDED / "h100-machine"


def _refused(capsys, argv, says):
    with pytest.raises(SystemExit) as stop:
        report.main([str(a) for a in argv])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


def test_an_output_that_is_a_saved_run_is_refused_and_the_run_kept(tmp_path, capsys):
    """`report --json a.json b.json`: --json takes a.json, a saved run; it is refused before any
    work, and its bytes stay as they were."""
    a = shutil.copy(sorted((INTERLEAVED / "torch211").glob("*.json"))[0], tmp_path / "a.json")
    b = shutil.copy(sorted((INTERLEAVED / "torch214").glob("*.json"))[0], tmp_path / "b.json")
    before = Path(a).read_bytes()
    _refused(capsys, ["--json", a, b], "is a saved benchmark run, never overwritten")
    _refused(capsys, [b, "--markdown", tmp_path / "x.md", "--csv", a], "--csv")  # any option, any suffix check first
    assert Path(a).read_bytes() == before
    # a saved run found inside a folder read is refused just the same
    folder = tmp_path / "runs"
    shutil.copytree(INTERLEAVED, folder)
    inside = sorted(folder.rglob("*.json"))[0]
    kept = inside.read_bytes()
    _refused(capsys, [folder, "--json", inside], "saved benchmark run")
    assert inside.read_bytes() == kept


def test_outputs_that_are_folders_inputs_or_unwritable_are_refused(tmp_path, capsys):
    (tmp_path / "out.md").mkdir()
    _refused(capsys, [INTERLEAVED, "--markdown", tmp_path / "out.md"], "is a folder")
    _refused(capsys, [INTERLEAVED, "--json", tmp_path], "is a folder")
    verification = shutil.copy(Path(__file__).resolve().parents[1] / "results/tox/verification.json", tmp_path / "v.json")
    _refused(capsys, [INTERLEAVED, "--html", tmp_path / "r.html", "--verification", verification, "--json", verification],
             "is one of the inputs")
    _refused(capsys, [INTERLEAVED, "--plot", tmp_path / "r.svg"], ".png")
    _refused(capsys, [INTERLEAVED, "--verification", verification], "--html")
    (tmp_path / "file").write_text("x")
    _refused(capsys, [INTERLEAVED, "--json", tmp_path / "file" / "r.json"], "is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "out.md", "v.json"]  # nothing written


def test_an_earlier_report_of_the_same_option_is_replaced(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert report.main([str(INTERLEAVED), "--json", str(out)]) == 0
    first = out.read_bytes()
    assert report.main([str(INTERLEAVED), "--json", str(out), "--min-change", "10"]) == 0
    assert out.read_bytes() != first and json.loads(out.read_text())["min_change"] == pytest.approx(0.10)
    capsys.readouterr()


def test_counted_runs_are_compared_by_counts_and_never_by_time(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert report.main([str(COUNTED), "--baseline", "torch24", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())
    rows = [r for r in saved["records"] if r["series"] == "torch214"]
    assert len(rows) == 4 and {r["verdict"] for r in rows} == {"not compared"} and {r["ratio"] for r in rows} == {None}
    assert {r["instructions_verdict"] for r in rows} <= {"more", "fewer", "same"}
    series = next(s for s in saved["series"] if s["series"] == "torch214")
    assert series["time_absent"] and series["instructions_ratio"] is not None and series["runs"] == []
    assert "time: not compared" in printed and "samples/s" not in printed


def test_a_counted_run_beside_timed_rounds_changes_no_time_figure(tmp_path, capsys):
    """The counted run of torch 2.14.1 added to the interleaved rounds' folder: the time ratios and
    verdicts are those of the four timed rounds alone; the count is shown, with no baseline count."""
    plain, mixed = tmp_path / "plain", tmp_path / "mixed"
    shutil.copytree(INTERLEAVED, plain)
    shutil.copytree(INTERLEAVED, mixed)
    for file in (COUNTED / "torch214").iterdir():
        shutil.copy(file, mixed / "torch214" / file.name)
    results = {}
    for name, folder in (("plain", plain), ("mixed", mixed)):
        out = tmp_path / f"{name}.json"
        assert report.main([str(folder), "--baseline", "torch211", "--json", str(out)]) == 0
        results[name] = json.loads(out.read_text())
    capsys.readouterr()
    times = {name: {(r["case"], r["series"]): (r["ratio"], r["ci_low"], r["ci_high"], r["verdict"], r["rounds"])
                    for r in saved["records"]} for name, saved in results.items()}
    assert times["plain"] == {k: v for k, v in times["mixed"].items() if k in times["plain"]}
    # the case only the counted run has (cifar_net's step) has no time on either side
    assert {v for k, v in times["mixed"].items() if k not in times["plain"]} == {(None, None, None, "missing", None)}
    series = next(s for s in results["mixed"]["series"] if s["series"] == "torch214")
    assert len(series["runs"]) == 4 and len(series["counted_runs"]) == 1 and series["rounds"] == 4
    assert {r["verdict"] for r in results["mixed"]["records"]
            if r["series"] == "torch214" and r["case"] != "cifar_net-cpu-bs4-step"} == {"unclear (4 runs)"}


def test_runs_from_two_machines_are_said_first_and_the_majority_gives_the_baseline(tmp_path, capsys):
    """The H100 host's run is the oldest, but one run against eight of the 2-core machine's."""
    out = tmp_path / "r.json"
    assert report.main([str(INTERLEAVED), str(H100 / next(H100.glob("*.json")).name), "--json", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("the runs come from 2 different machines")
    saved = json.loads(out.read_text())
    assert saved["baseline"] == "torch211"
    assert list(saved["machines"]) == ["AMD EPYC", "Intel(R) Xeon(R) Processor, NVIDIA H100 80GB HBM3"]
    assert any("another machine than the baseline's" in line for line in printed)


def test_the_wide_pivot_stays_available_and_the_default_fits_120_columns(tmp_path, capsys):
    assert report.main([str(INTERLEAVED), str(COUNTED), "--baseline", "torch211"]) == 0
    narrow = capsys.readouterr().out
    assert max(map(len, narrow.splitlines())) <= 120
    assert report.main([str(INTERLEAVED), "--baseline", "torch211", "--wide"]) == 0
    wide = capsys.readouterr().out
    assert max(map(len, wide.splitlines())) > 120 and "torch214: torch 2.14.1+cu130 cpu (4 rounds)" in wide


def test_a_json_file_read_from_an_input_folder_is_not_overwritten(tmp_path, capsys):
    """Every .json under a folder given is read as a possible run; one that is not a run (a
    fidelity record, say) is skipped, and still never replaced by --json. An earlier report is."""
    folder = tmp_path / "runs"
    shutil.copytree(INTERLEAVED, folder)
    record = folder / "fidelity.json"
    record.write_text('{"cases": []}\n')
    _refused(capsys, [folder, "--json", record], "is one of the inputs")
    assert record.read_text() == '{"cases": []}\n'
    earlier = folder / "report.json"
    assert report.main([str(folder), "--json", str(earlier)]) == 0
    assert report.main([str(folder), "--json", str(earlier)]) == 0  # an earlier report is replaced
    capsys.readouterr()


def test_an_output_that_cannot_be_written_is_one_line(capsys):
    """/proc takes no new file, whoever runs the test (root included)."""
    if not Path("/proc/self").exists():
        pytest.skip("no /proc on this system: no folder that refuses a new file to root")
    assert report.main([str(INTERLEAVED), "--markdown", "/proc/blitzbench-report.md"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be written" in err[0], err


def test_explain_refuses_the_options_it_would_ignore(tmp_path, capsys):
    a, b = COUNTED / "torch24", COUNTED / "torch214"
    _refused(capsys, [a, b, "--explain", "chapter_net-cpu-bs4-forward", "--html", tmp_path / "r.html"], "--html")
    assert not (tmp_path / "r.html").exists()


def test_the_default_baseline_has_timed_runs_where_any_series_has(tmp_path, capsys):
    """torch 2.4.1's counted run is the lowest release, but compares no time: the baseline is the
    lowest release with timed runs, so 2.14.1 is compared with 2.11.0 by time."""
    out = tmp_path / "r.json"
    assert report.main([str(COUNTED / "torch24"), str(INTERLEAVED), "--json", str(out)]) == 0
    capsys.readouterr()
    saved = json.loads(out.read_text())
    assert saved["baseline"] == "torch211"
    assert {r["verdict"] for r in saved["records"] if r["series"] == "torch214"
            and r["case"] != "cifar_net-cpu-bs4-step"} == {"unclear (4 runs)"}  # a case only the counted run has


def test_the_gate_with_no_time_compared_is_one_line_not_a_pass(tmp_path, capsys):
    assert report.main([str(COUNTED), "--baseline", "torch24", "--fail-on-regression", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no case has a time compared" in err[0]


def test_rounds_of_different_matrices_pair_by_time_order(tmp_path, capsys):
    """Both series carry round records, of two different matrices: no round is shared, so the
    runs pair by time order, as runs without records do."""
    folder = tmp_path / "runs"
    shutil.copytree(INTERLEAVED, folder)
    for matrix, series in (("m1", "torch211"), ("m2", "torch214")):
        for n, path in enumerate(sorted((folder / series).glob("*.json")), 1):
            data = json.loads(path.read_text())
            data["machine_info"]["blitzbench_matrix"] = {"series": series, "round": n, "matrix": matrix}
            path.write_text(json.dumps(data))
    out = tmp_path / "r.json"
    assert report.main([str(folder), "--baseline", "torch211", "--json", str(out)]) == 0
    capsys.readouterr()
    series = next(s for s in json.loads(out.read_text())["series"] if s["series"] == "torch214")
    assert series["rounds"] == 4 and series["verdict"] == "unclear (4 runs)"


def test_a_summary_without_a_case_in_every_round_counts_the_rounds(tmp_path, capsys):
    """Two rounds, but no case ran in both: the geometric mean is not paired, and its verdict
    says how many runs there were, not one."""
    folder = tmp_path / "runs"
    shutil.copytree(INTERLEAVED, folder)
    for series in ("torch211", "torch214"):
        files = sorted((folder / series).glob("*.json"))
        for path in files[2:]:
            path.unlink()
        data = json.loads(files[1].read_text())
        data["benchmarks"] = data["benchmarks"][:1]  # round 2 ran one case only
        files[1].write_text(json.dumps(data))
        data = json.loads(files[0].read_text())
        data["benchmarks"] = data["benchmarks"][1:]  # round 1 ran all the others
        files[0].write_text(json.dumps(data))
    out = tmp_path / "r.json"
    assert report.main([str(folder), "--baseline", "torch211", "--json", str(out)]) == 0
    capsys.readouterr()
    series = next(s for s in json.loads(out.read_text())["series"] if s["series"] == "torch214")
    assert series["rounds"] == 2 and series["verdict"] == "unclear (2 runs)"


@pytest.mark.parametrize("part, value", [("releases", [1]), ("known_bugs", "x"), ("areas", [["torch24"]])])
def test_a_verification_table_of_another_shape_is_one_line(tmp_path, capsys, part, value):
    table = json.loads((Path(__file__).resolve().parents[1] / "results/tox/verification.json").read_text())
    table[part] = value
    (tmp_path / "v.json").write_text(json.dumps(table))
    assert report.main([str(INTERLEAVED), "--html", str(tmp_path / "r.html"), "--verification",
                        str(tmp_path / "v.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a table of checks by release" in err[0]
    assert not (tmp_path / "r.html").exists()
