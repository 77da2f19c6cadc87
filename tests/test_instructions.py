"""--instructions: Callgrind counts per case, compared by blitzbench report, explained by --explain.

What a count must show (docs/benchmarks.md, "What a count can and cannot tell"), on real counted
runs (valgrind is on these machines; where it is not, they skip with the reason): the same release
counted twice agrees within 0.5% with no change called; a computation planted in the forward pass
only is called "more" where the forward runs and "same" where it does not, and --explain names it;
work planted inside the convolution kernels' call path is called "more" in every phase that runs
the model, backward included, under the default --counting-isa (the same under native is measured in
results/counting-isa/); counts made under different settings are never compared;
the parser reads a small committed callgrind file as computed by hand.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from blitzbench import counting_isa
from blitzbench.analysis import instruction_compare, verdicts
from blitzbench.cli import report
from blitzbench.measure import callgrind, instructions
from blitzbench.cases import Case

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "callgrind" / "small.out"
PLUGINS = ROOT / "tests" / "plugins"
PLANTED_OPERATION = "logcumsumexp"  # tests/plugins/blitz_plant_forward.py
SESSION_COUNTS = "blitzbench session counted:"  # tests/plugins/blitz_show_session_counts.py
CASES = ["forward", "backward", "step", "train_step"]
SAME_RELEASE_LIMIT = 0.005  # two counted runs of one release agree within 0.5% (docs/benchmarks.md)
REPEAT_SPREAD_LIMIT = 0.01  # (max - min) / median of 3 repeats within a run: up to 0.51% measured (bs4 step)

needs_valgrind = pytest.mark.skipif(callgrind.missing_reason() is not None,
                                    reason=f"--instructions cannot count here: {callgrind.missing_reason()}")


# -- the parser, on a small committed file ---------------------------------------------------------

def test_callgrind_parsing_of_a_small_committed_file():
    """tests/data/callgrind/small.out, worked by hand: conv2d (100 own) calls im2col (300) and
    an unnamed function (50); eval (6 + 4 own, the second nested) calls conv2d (450) and helper
    (15 own), which calls eval again (4)."""
    profile = callgrind.read(SMALL)
    assert profile.trigger == "chapter_net-cpu-bs4-forward|repeat0"
    assert profile.total == 475  # the totals: line, not "summary: 0"
    conv = "libtorch_cpu.so:at::native::conv2d(at::Tensor const&)"
    assert profile.exclusive == {conv: 100, "libtorch_cpu.so:at::native::im2col": 300,
                                 "libtorch_cpu.so:(no symbol)": 50, "libc.so.6:eval": 10, "libc.so.6:helper": 15}
    assert sum(profile.exclusive.values()) == profile.total
    # Inclusive: own cost plus calls leaving the function's recursion cycle (eval <-> helper).
    assert profile.inclusive[conv] == 450
    assert profile.inclusive["libc.so.6:eval"] == 10 + 450
    assert profile.inclusive["libc.so.6:helper"] == 15
    assert max(profile.inclusive.values()) <= profile.total


def test_names_leave_out_install_paths_addresses_and_recursion_suffixes():
    a = callgrind.standard_name("at::foo'2", "/home/a/.tox/torch24/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so")
    b = callgrind.standard_name("at::foo", "/work/.venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so")
    assert a == b == "libtorch_cpu.so:at::foo"
    assert callgrind.standard_name("0x0000000004a1b2c0", "/x/libdnnl.so") == "libdnnl.so:(no symbol)"
    assert callgrind.standard_name("f", "???") == "(anonymous code):f"


def test_client_requests_do_nothing_natively():
    """Outside valgrind the request sequence is a no-op that returns the default."""
    requests = callgrind.ClientRequests()
    assert requests.running_on_valgrind is False
    assert requests.request(callgrind.TOGGLE_COLLECT, default=7) == 7
    requests.zero_stats()
    requests.dump_stats_at("nothing")


def test_calls_per_repeat_fill_a_few_milliseconds():
    assert instructions.calls_per_repeat(0.0005) == 4  # capped
    assert instructions.calls_per_repeat(0.001) == 3
    assert instructions.calls_per_repeat(0.02) == 1
    assert instructions.calls_per_repeat(None) == instructions.MAX_CALLS_PER_REPEAT


# -- real counted runs -------------------------------------------------------------------------------

def _counting_run(results: Path, plant: str | None, isa: str = counting_isa.DEFAULT) -> subprocess.Popen:
    # One thread: three runs at once on a 2-core machine would otherwise spin in each other's
    # OpenMP barriers (timing is not what these tests look at; counts use one thread anyway).
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), env.get("PYTHONPATH")]))
    args = [sys.executable, "-m", "pytest", "bench/test_throughput.py", "--benchmark-only", "--quick", "-q",
            "-p", "no:cacheprovider", "--device=cpu", "--models=chapter_net", "--batch-sizes=4",
            f"--phases={','.join(CASES)}", "--instructions", "--instructions-jobs=1", f"--results-dir={results}",
            "-p", "blitz_show_session_counts", f"--counting-isa={isa}"]
    if plant:
        args += ["-p", plant]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# name -> (plant plugin in tests/plugins, --counting-isa) of each counted run the tests compare
COUNTED_RUNS = {"first": (None, "avx"), "second": (None, "avx"), "planted": ("blitz_plant_forward", "avx"),
                "planted-conv": ("blitz_plant_conv", "avx")}


@pytest.fixture(scope="module")
def counted_runs(tmp_path_factory):
    """Counted runs of chapter_net at batch 4, at once (counts do not mind a busy machine): two of
    this release as it is, one with the planted forward computation, one with the planted
    convolution."""
    folders = {name: tmp_path_factory.mktemp(name) for name in COUNTED_RUNS}
    processes = {name: _counting_run(folders[name], *COUNTED_RUNS[name]) for name in COUNTED_RUNS}
    runs = {}
    for name, process in processes.items():
        out, _ = process.communicate(timeout=900)
        assert process.returncode == 0, out[-3000:]
        [run] = folders[name].glob("*_cpu.json")
        runs[name] = (run, out)
    return runs


def _report_json(tmp_path, a: Path, b: Path, *extra) -> dict:
    """The report of B against A (the baseline, whichever run finished first)."""
    out = tmp_path / "report.json"
    assert report.main([str(a), str(b), "--baseline", str(a), "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


def _instruction_records(data: dict, series: str) -> dict[str, dict]:
    records = {r["case"]: r for r in data["records"] if r["series"] == series}
    assert records, f"no series {series!r} in {[s['series'] for s in data['series']]}"
    return records


@needs_valgrind
def test_each_counted_case_carries_its_counts_and_the_run_says_how(counted_runs):
    run, out = counted_runs["first"]
    data = json.loads(run.read_text())
    info = data["machine_info"]["instructions"]
    assert info["valgrind"].startswith("valgrind-")
    assert info["seen_under_valgrind"]["torch_threads"] == 1
    assert info["seen_under_valgrind"]["cpu_capability"]  # what the kernels dispatched on
    for bench in data["benchmarks"]:
        extra = bench["extra_info"]
        assert extra["instructions_per_call"] > 1e5, extra
        assert extra["instructions_per_sample"] == pytest.approx(extra["instructions_per_call"] / 4)
        assert len(extra["instructions_repeats"]) == instructions.REPEATS
        assert 0 <= extra["instructions_spread"] < REPEAT_SPREAD_LIMIT
        assert bench["stats"]["median"] > 0  # timed as ever
    assert instructions.profile_path_for(run).exists()
    assert "counted chapter_net-cpu-bs4-train_step" in out and "instructions" in out


@needs_valgrind
def test_the_counts_are_held_in_the_runs_session(counted_runs):
    """--instructions keeps its state in the suite's session (blitzbench.plugin.session.SuiteSession):
    after the run, the session holds the counts of every case the saved run carries counts for."""
    run, out = counted_runs["first"]
    [line] = [line for line in out.splitlines() if line.startswith(SESSION_COUNTS)]
    held = line.removeprefix(SESSION_COUNTS).strip().split(",")
    saved = [b["extra_info"]["case_id"] for b in json.loads(run.read_text())["benchmarks"]
             if "instructions_per_call" in b["extra_info"]]
    assert sorted(held) == sorted(saved) and len(held) == len(CASES)


def _against_first(counted_runs, tmp_path, name: str, first: str = "first") -> tuple[dict[str, dict], dict]:
    """Run ``name`` against the first run (or ``first``): its records by case, and its series record."""
    data = _report_json(tmp_path, counted_runs[first][0], counted_runs[name][0])
    [series] = [s for s in data["series"] if not s["baseline"]]
    return _instruction_records(data, series["series"]), series


@needs_valgrind
def test_the_same_release_counted_twice_calls_no_change(counted_runs, tmp_path):
    records, series = _against_first(counted_runs, tmp_path, "second")
    assert len(records) == len(CASES)
    for case, record in records.items():
        assert record["instructions_verdict"] == "same", record
        assert abs(record["instructions_ratio"] - 1) < SAME_RELEASE_LIMIT, (case, record["instructions_ratio"])
    assert series["instructions_verdict"] == "same"
    assert series["instructions_verdict_counts"] == {"more": 0, "fewer": 0, "same": len(CASES)}


@needs_valgrind
def test_a_planted_forward_computation_is_called_more_where_the_forward_runs(counted_runs, tmp_path):
    records, _ = _against_first(counted_runs, tmp_path, "planted")
    verdicts = {Case.parse(case).phase: r["instructions_verdict"] for case, r in records.items()}
    ratios = {Case.parse(case).phase: r["instructions_ratio"] for case, r in records.items()}
    assert verdicts == {"forward": "more", "train_step": "more", "backward": "same", "step": "same"}, ratios
    assert 1.01 < ratios["forward"] < 1.15, ratios  # a few percent, as planted


@needs_valgrind
def test_work_planted_in_the_convolution_kernels_is_called_more_in_every_phase_that_runs_the_model(
        counted_runs, tmp_path):
    """The first convolution run again on one sample of the four: a quarter of conv1's work more
    in the forward and again in the backward pass (tests/plugins/blitz_plant_conv.py); the
    optimizer step does not run the model."""
    records, _ = _against_first(counted_runs, tmp_path, "planted-conv")
    verdicts = {Case.parse(case).phase: r["instructions_verdict"] for case, r in records.items()}
    ratios = {Case.parse(case).phase: r["instructions_ratio"] for case, r in records.items()}
    assert verdicts == {"forward": "more", "train_step": "more", "backward": "more", "step": "same"}, ratios


@needs_valgrind
def test_the_counting_setting_is_recorded_and_runs_of_different_settings_are_not_compared(counted_runs, tmp_path,
                                                                                         capsys):
    avx = counted_runs["first"][0]
    data = json.loads(avx.read_text())
    info = data["machine_info"]["instructions"]
    assert info["counting_isa"] == counting_isa.DEFAULT == "avx"
    assert info["counting_isa_environment"] == counting_isa.SETTINGS["avx"]
    # The same run as if counted natively, its profile beside it: a run counted under the other setting.
    info["counting_isa"], info["counting_isa_environment"] = "native", counting_isa.SETTINGS["native"]
    native = tmp_path / "native" / avx.name
    native.parent.mkdir()
    native.write_text(json.dumps(data))
    instructions.profile_path_for(native).write_bytes(instructions.profile_path_for(avx).read_bytes())
    assert report.main([str(avx), str(native)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "different --counting-isa settings" in err, err
    assert report.main([str(avx), str(native), "--explain", "chapter_net-cpu-bs4-forward"]) == 2
    assert "different --counting-isa settings" in capsys.readouterr().err


@needs_valgrind
def test_explain_names_the_planted_operation(counted_runs, tmp_path, capsys):
    (first, _), (planted, _) = counted_runs["first"], counted_runs["planted"]
    out = tmp_path / "explain.json"
    assert report.main([str(first), str(planted), "--explain", "chapter_net-cpu-bs4-forward", "--top", "5",
                        "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    top_inclusive = [row["function"] for row in data["inclusive"]]
    assert any(PLANTED_OPERATION in name for name in top_inclusive), top_inclusive
    assert all(row["change"] > 0 for row in data["inclusive"][:1])
    assert PLANTED_OPERATION in printed and "largest changes, exclusive" in printed


@needs_valgrind
def test_explain_with_a_case_neither_run_has_is_one_line(counted_runs, capsys):
    (first, _), (second, _) = counted_runs["first"], counted_runs["second"]
    assert report.main([str(first), str(second), "--explain", "lenet-cpu-bs64-forward"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "neither" in err and "chapter_net-cpu-bs4-forward" in err


# -- bad input ---------------------------------------------------------------------------------------

def _pytest(*args, env=None):
    return subprocess.run([sys.executable, "-m", "pytest", "bench/test_throughput.py", "-q", "-p", "no:cacheprovider",
                           "--benchmark-only", "--instructions", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def _one_line(result) -> str:
    text = (result.stdout + result.stderr).strip()
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_instructions_with_a_cuda_only_selection_is_one_line_exit_2():
    result = _pytest("--device=cuda")
    assert result.returncode == 2
    assert "--instructions counts CPU cases" in _one_line(result)


def test_instructions_without_valgrind_is_one_line_exit_2(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # python, and no valgrind
    result = _pytest("--device=cpu", "--models=chapter_net", "--batch-sizes=4", env=env)
    assert result.returncode == 2
    line = _one_line(result)
    assert "valgrind is not installed" in line and "apt-get install valgrind" in line


def test_instructions_with_benchmark_disable_is_one_line_exit_2():
    result = subprocess.run([sys.executable, "-m", "pytest", "bench/test_throughput.py", "-q", "-p", "no:cacheprovider",
                             "--benchmark-disable", "--instructions", "--device=cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "--benchmark-disable saves none" in _one_line(result)


def test_a_counting_setting_that_does_not_exist_or_without_instructions_is_one_line_exit_2():
    result = _pytest("--device=cpu", "--counting-isa=sse")
    assert result.returncode == 2 and "--counting-isa 'sse': accepted: avx, native" in _one_line(result)
    result = subprocess.run([sys.executable, "-m", "pytest", "bench/test_throughput.py", "-q", "-p", "no:cacheprovider",
                             "--benchmark-only", "--counting-isa=native", "--device=cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "--counting-isa goes with --instructions" in _one_line(result)


def test_the_counting_processes_get_the_setting_whatever_the_callers_environment_says(monkeypatch):
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE")
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "SSE4_2")
    avx = instructions.worker_environment("avx")
    assert {k: avx[k] for k in counting_isa.VARIABLES} == counting_isa.SETTINGS["avx"]
    native = instructions.worker_environment("native")
    assert not set(counting_isa.VARIABLES) & set(native)  # nothing capped: what valgrind's CPU offers
    assert avx["OMP_NUM_THREADS"] == native["OMP_NUM_THREADS"] == "1"


def test_explain_needs_two_runs_and_a_case_id(tmp_path, capsys):
    run = tmp_path / "a.json"
    run.write_text("{}")
    for args, message in (([str(run), "--explain", "chapter_net-cpu-bs4-forward"], "compares two runs"),
                          ([str(run), str(run), "--explain", "not-a-case"], "is not of the form")):
        with pytest.raises(SystemExit) as stop:
            report.main(args)
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


# -- the report's count comparison, on made-up runs ------------------------------------------------

def _counted(path: Path, per_call: dict[str, float], when: str) -> Path:
    benchmarks = []
    for case_id, count in per_call.items():
        case = Case.parse(case_id)
        median = 0.001
        benchmarks.append({"name": f"test_throughput[{case_id}]",
                           "stats": {"median": median, "q1": median * 0.98, "q3": median * 1.02, "iqr": 4e-5},
                           "extra_info": {**case.fields(), "case_id": case_id, "instructions_per_call": count,
                                          "instructions_spread": 0.001}})
    path.write_text(json.dumps({"machine_info": {"torch_version": "2.15.0", "node": "vm", "cpu_model": "x"},
                                "benchmarks": benchmarks, "datetime": when}))
    return path


def test_count_verdicts_beyond_the_threshold(tmp_path):
    a = _counted(tmp_path / "a.json", {"chapter_net-cpu-bs4-forward": 1000.0, "chapter_net-cpu-bs4-step": 1000.0,
                                       "lenet-cpu-bs4-step": 1000.0}, "2026-12-01T00:00:00")
    b = _counted(tmp_path / "b.json", {"chapter_net-cpu-bs4-forward": 1020.0, "chapter_net-cpu-bs4-step": 995.0,
                                       "lenet-cpu-bs4-step": 970.0}, "2026-12-01T01:00:00")
    data = _report_json(tmp_path, a, b)
    records = _instruction_records(data, "b")
    assert records["chapter_net-cpu-bs4-forward"]["instructions_verdict"] == "more"
    assert records["chapter_net-cpu-bs4-step"]["instructions_verdict"] == "same"
    assert records["lenet-cpu-bs4-step"]["instructions_verdict"] == "fewer"
    assert records["chapter_net-cpu-bs4-forward"]["instructions_ratio"] == pytest.approx(1.02)
    series = {s["series"]: s for s in data["series"]}["b"]
    assert series["instructions_ratio"] == pytest.approx((1.02 * 0.995 * 0.97) ** (1 / 3))
    # A higher threshold calls the 2% change "same".
    data = _report_json(tmp_path, a, b, "--min-change-instructions", "2.5")
    assert _instruction_records(data, "b")["chapter_net-cpu-bs4-forward"]["instructions_verdict"] == "same"


def test_a_series_of_several_counted_runs_shows_their_spread(tmp_path, capsys):
    folder = tmp_path / "torch215"
    folder.mkdir()
    for i, count in enumerate((1000.0, 1001.0, 1002.0)):
        _counted(folder / f"r{i}.json", {"chapter_net-cpu-bs4-forward": count}, f"2026-12-01T0{i}:00:00")
    base = tmp_path / "torch214"
    base.mkdir()
    _counted(base / "r.json", {"chapter_net-cpu-bs4-forward": 900.0}, "2026-11-30T00:00:00")
    assert report.main([str(base), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "1,001 (±0.10%, 3 runs)" in out and "more" in out


def test_count_comparison_needs_counts_on_both_sides(tmp_path):
    a = _counted(tmp_path / "a.json", {"chapter_net-cpu-bs4-forward": 1000.0}, "2026-12-01T00:00:00")
    b = tmp_path / "b.json"
    data = json.loads(a.read_text())
    del data["benchmarks"][0]["extra_info"]["instructions_per_call"]
    data["datetime"] = "2026-12-01T02:00:00"
    b.write_text(json.dumps(data))
    records = _instruction_records(_report_json(tmp_path, a, b), "b")
    assert records["chapter_net-cpu-bs4-forward"]["instructions_verdict"] == "not counted"
    assert verdicts.count_verdict(1.0, 0.01) == "same"


def test_the_counting_process_outside_valgrind_is_one_line_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pytest", "bench/test_throughput.py", "-q", "-p", "no:cacheprovider",
                             "--benchmark-disable", f"--instructions-worker={tmp_path}", "--device=cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "runs under valgrind" in _one_line(result)
