"""blitzbench report: matching runs, the verdict, regressions, exports and bad input."""

import json
from pathlib import Path

import pytest

from blitzbench import store
from blitzbench.cases import Case
from blitzbench.cli import report
from blitzbench.store import SCHEMA_FIELD, SCHEMA_VERSION
from blitzbench.kinds import TimeToAccuracyCase, case_of

ROOT = Path(__file__).resolve().parents[1]
SAVED_CPU_RUN = sorted(ROOT.glob("results/*_cpu.json"))


def make_run(path: Path, torch_version="2.14.1", when="2026-11-27T10:00:00", scale=1.0, noise=0.02,
             cases=(("chapter_net", "forward", 4), ("lenet", "step", 64)), node="vm", cpu="x"):
    benchmarks = []
    for model, phase, bs in cases:
        median = 0.001 * bs * scale
        benchmarks.append({
            "name": f"test_throughput[{model}-cpu-bs{bs}-{phase}]",
            "stats": {"median": median, "q1": median * (1 - noise), "q3": median * (1 + noise),
                      "iqr": 2 * noise * median, "min": median * 0.9, "max": median * 1.2, "mean": median},
            # as the suite saves a case: its kind and its figures (samples/s, noise) beside its fields
            "extra_info": {"kind": "throughput", **Case(model, "cpu", bs, phase).fields(),
                           "samples_per_s": bs / median, "noise_iqr_over_median": 2 * noise}})
    path.write_text(json.dumps({"machine_info": {"torch_version": torch_version, "node": node, "cpu_model": cpu,
                                                 SCHEMA_FIELD: SCHEMA_VERSION},
                                "benchmarks": benchmarks, "datetime": when, "version": "5.3.1"}))
    return path


def slowed_copy(src: Path, dst: Path, factor: float) -> Path:
    """Every timed call ``factor`` times longer: the rounds' statistics, and the rates the
    benchmarks saved from them (time to accuracy keeps its own seconds)."""
    data = json.loads(src.read_text())
    for bench in data["benchmarks"]:
        stats = bench["stats"]
        for key in ("min", "max", "mean", "median", "q1", "q3", "iqr", "stddev", "ld15iqr", "hd15iqr", "total"):
            if isinstance(stats.get(key), (int, float)):
                stats[key] *= factor
        if "data" in stats:
            stats["data"] = [v * factor for v in stats["data"]]
        info = bench.get("extra_info") or {}
        for rate in ("samples_per_s", "images_per_s", "gflops_per_s"):
            if isinstance(info.get(rate), (int, float)):
                info[rate] /= factor
    data["datetime"] = "2099-01-01T00:00:00"  # newer than the original, which stays the baseline
    dst.write_text(json.dumps(data))
    return dst


def test_one_run_per_side_is_unclear_whatever_the_ratio(tmp_path, capsys):
    """One run per side cannot tell a release from drift (the paired interval needs 6 rounds,
    blitzbench.analysis.paired_stats): ratios of 0.28 and 1.73 are shown and called nothing."""
    base = make_run(tmp_path / "a.json", noise=0.001)
    slow = make_run(tmp_path / "b.json", when="2026-11-28T10:00:00", scale=1 / 0.28, noise=0.001)
    fast = make_run(tmp_path / "c.json", when="2026-11-29T10:00:00", scale=1 / 1.73, noise=0.001)
    out = tmp_path / "r.json"
    assert report.main([str(base), str(slow), str(fast), "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    compared = [r for r in saved["records"] if not r["baseline"]]
    assert {r["verdict"] for r in compared} == {"unclear (1 run)"}
    assert sorted({round(r["ratio"], 2) for r in compared}) == [0.28, 1.73]
    assert {s["verdict"] for s in saved["series"] if not s["baseline"]} == {"unclear (1 run)"}


def test_runs_are_matched_by_case_and_a_missing_case_shows(tmp_path, capsys):
    a = make_run(tmp_path / "a.json")
    b = make_run(tmp_path / "b.json", "2.15.0", "2026-11-28T10:00:00", cases=(("chapter_net", "forward", 4),))
    assert report.main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("chapter_net", "lenet"))}
    assert "1.00" in rows["chapter_net-cpu-bs4-forward"] and "unclear (1 run)" in rows["chapter_net-cpu-bs4-forward"]
    assert "missing" in rows["lenet-cpu-bs64-step"]
    assert "geometric mean" in out and "torch 2.15.0" in out


def test_a_saved_run_30_percent_slower_fails_at_10_percent(tmp_path, capsys):
    """The gate reads the ratio of medians, as pytest-benchmark's compare-fail, whatever the
    verdict; with one run a side the verdict is unclear, and the message says so."""
    assert SAVED_CPU_RUN, "a full CPU run is committed under results/"
    slow = slowed_copy(SAVED_CPU_RUN[-1], tmp_path / "slow.json", 1.3)
    assert report.main([str(SAVED_CPU_RUN[-1]), str(slow), "--fail-on-regression", "10"]) == 1
    err = capsys.readouterr().err.replace("\n      ", " ")  # a long line continues indented
    named = {line.split()[0] for line in err.splitlines() if line.startswith("  ")}
    # Named: every compared case (each median 30% longer), but time to accuracy, which is read
    # from its own seconds in extra_info, which the slowed copy keeps.
    saved = store.upgrade(json.loads(SAVED_CPU_RUN[-1].read_text()))["benchmarks"]
    expected = {case.id for case in (case_of(b["extra_info"]) for b in saved)
                if case and not isinstance(case, TimeToAccuracyCase)}
    assert expected and named == expected
    assert all("30.0% slower" in line and "unclear (1 run)" in line for line in err.splitlines() if line.startswith("  "))


def test_identical_runs_pass(tmp_path):
    assert SAVED_CPU_RUN
    same = slowed_copy(SAVED_CPU_RUN[-1], tmp_path / "same.json", 1.0)
    assert report.main([str(SAVED_CPU_RUN[-1]), str(same), "--fail-on-regression", "10"]) == 0


def test_baseline_by_torch_version_and_exports(tmp_path, capsys):
    old = make_run(tmp_path / "old.json", "2.11.0", "2026-11-01T00:00:00")
    new = make_run(tmp_path / "new.json", "2.14.1", "2026-11-27T00:00:00", scale=0.5)
    args = [str(old), str(new), "--baseline", "2.14.1", "--format", "github", "--csv", str(tmp_path / "r.csv"),
            "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png"), "--markdown", str(tmp_path / "r.md")]
    assert report.main(args) == 0
    out = capsys.readouterr().out
    assert "baseline: new: torch 2.14.1" in out and out.count("|") > 10
    saved = json.loads((tmp_path / "r.json").read_text())
    old_rows = [r for r in saved["records"] if r["torch_version"] == "2.11.0"]
    assert {r["verdict"] for r in old_rows} == {"unclear (1 run)"} and all(r["ratio"] == pytest.approx(0.5) for r in old_rows)
    assert {r["method"] for r in old_rows} == {"single run"}
    assert (tmp_path / "r.csv").read_text().startswith("case,mode,series,label")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "r.md").read_text().startswith("# Comparison")


def test_runs_from_different_machines_are_marked(tmp_path, capsys):
    a = make_run(tmp_path / "a.json", node="box-a", cpu="AMD EPYC")
    b = make_run(tmp_path / "b.json", node="box-b", cpu="Intel Xeon", when="2026-11-28T00:00:00")
    assert report.main([str(a), str(b)]) == 0
    assert capsys.readouterr().out.startswith("the runs come from 2 different machines")


def _one_line_error(capsys, argv, says):
    assert report.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    _one_line_error(capsys, [str(tmp_path / "nope")], "no such file or folder")
    (tmp_path / "empty").mkdir()
    _one_line_error(capsys, [str(tmp_path / "empty")], "holds no .json files")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    _one_line_error(capsys, [str(tmp_path / "other.json")], "not a pytest-benchmark run")
    good = make_run(tmp_path / "good.json")
    cut = tmp_path / "cut.json"
    cut.write_text(good.read_text()[:200])
    _one_line_error(capsys, [str(cut)], "cut short")
    lonely = make_run(tmp_path / "lonely.json", "2.12.1", when="2026-12-01T00:00:00", cases=(("cifar_net", "backward", 1),))
    _one_line_error(capsys, [str(good), str(lonely)], "no case in common")
    _one_line_error(capsys, [str(good), "--baseline", "1.0.0"], "matches no run")


def test_bad_options_are_one_line(capsys):
    for argv, says in ((["--format", "fancy"], "accepted:"), (["--fail-on-regression", "-3"], "a percentage"),
                       (["--plot", "out.svg"], ".png")):
        with pytest.raises(SystemExit) as exit_info:
            report.main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def test_folders_skip_json_that_is_not_a_run_but_not_a_cut_short_run(tmp_path, capsys):
    make_run(tmp_path / "a.json")
    (tmp_path / "fidelity.json").write_text(json.dumps({"cases": []}))
    assert report.main([str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().err
    (tmp_path / "b.json").write_text('{"benchmarks": [')
    _one_line_error(capsys, [str(tmp_path)], "cut short")


def test_two_runs_of_one_release_named_one_by_one_are_compared(tmp_path, capsys):
    """Files named on the command line are separate runs, even from one folder and one release:
    a copy 30% slower in every case fails the gate (the folder, named as such, stays one series)."""
    before = make_run(tmp_path / "before.json", "2.15.0", "2026-12-01T10:00:00")
    after = slowed_copy(before, tmp_path / "after.json", 1.3)
    assert report.main([str(before), str(after), "--fail-on-regression", "10"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("2 series; baseline: before")
    assert "chapter_net-cpu-bs4-forward (after: torch 2.15.0 cpu)" in captured.err and "unclear (1 run)" in captured.out
    assert report.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("1 series")
    # one series: no time is compared, and a gate asked for has nothing to read
    assert report.main([str(tmp_path), "--fail-on-regression", "10"]) == 2
    assert "no case has a time compared" in capsys.readouterr().err


def test_runs_named_one_by_one_with_the_same_file_name_are_told_apart_by_folder(tmp_path, capsys):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = make_run(tmp_path / "a" / "20261201-100000_torch-2.15.0_cpu.json", "2.15.0", "2026-12-01T10:00:00")
    second = slowed_copy(first, tmp_path / "b" / first.name, 1.3)
    out = tmp_path / "r.json"
    assert report.main([str(first), str(second), "--json", str(out)]) == 0
    names = [s["series"] for s in json.loads(out.read_text())["series"]]
    assert names == ["a/20261201-100000_torch-2.15.0_cpu", "b/20261201-100000_torch-2.15.0_cpu"]


def test_exclude_leaves_out_the_runs_under_a_folder(tmp_path, capsys):
    (tmp_path / "timed").mkdir(), (tmp_path / "instructions").mkdir()
    make_run(tmp_path / "timed" / "a.json", "2.14.1", "2026-11-27T10:00:00")
    make_run(tmp_path / "instructions" / "b.json", "2.15.0", "2026-11-28T10:00:00")
    assert report.main([str(tmp_path), "--exclude", str(tmp_path / "instructions")]) == 0
    assert capsys.readouterr().out.startswith("1 series")
    assert report.main([str(tmp_path / "instructions"), "--exclude", str(tmp_path / "instructions")]) == 2
    assert "--exclude leaves no run" in capsys.readouterr().err
