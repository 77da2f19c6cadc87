"""Nothing lost: every subcommand that writes checks its outputs before any work (never a saved run,
a folder, or one of its inputs; one line and exit status 2), a subcommand that only reads writes
nothing, and default folders are relative to the current folder, not to the suite's checkout.

Fast: no torch work, no tox; the commands stop at their checks."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blitzbench import ROOT
from blitzbench.analysis import verification as verification_table
from blitzbench.cli import fidelity, gpu_check, matrix, verification
from blitzbench.cli.args import BadInput, check_output_folder, check_outputs

RECORDED_RUN = (ROOT / "tests" / "data" / "recorded" / "torch-2.11-vs-2.14-interleaved" / "torch211"
                / "20261128-013535_torch-2.11.0_cu130_cpu.json")
SAVED_XML = sorted((ROOT / "results" / "tox").glob(f"*/{verification_table.RESULT_FILE}"))


@pytest.fixture
def saved_run(tmp_path) -> Path:
    """A copy of a recorded benchmark run, the one thing the suite cannot make again."""
    path = tmp_path / "run" / RECORDED_RUN.name
    path.parent.mkdir()
    shutil.copyfile(RECORDED_RUN, path)
    return path


@pytest.fixture
def tox_results(tmp_path) -> Path:
    """A copy of results/tox's saved verification runs (each <env>/verification.xml)."""
    if not SAVED_XML:
        pytest.skip("results/tox holds no <env>/verification.xml to copy")
    folder = tmp_path / "results" / "tox"
    for xml in SAVED_XML[:2]:
        (folder / xml.parent.name).mkdir(parents=True)
        shutil.copyfile(xml, folder / xml.parent.name / xml.name)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by its path there, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def blitzbench(*args, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "OUT"} | (env or {})
    return subprocess.run([sys.executable, "-m", "blitzbench", *map(str, args)], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60)


def assert_refused(done: subprocess.CompletedProcess, says: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("blitzbench ") and ": error: " in lines[0] and says in lines[0], lines[0]


# -- a saved run pointed at as an output: refused, its bytes unchanged -------------------------------

def test_verification_save_never_writes_over_a_saved_run(tox_results, saved_run):
    shutil.copyfile(saved_run, tox_results / "verification.json")
    before = snapshot(tox_results)
    assert_refused(blitzbench("verification", tox_results, "--save"), "is a saved benchmark run, never overwritten")
    assert snapshot(tox_results) == before


def test_matrix_verify_never_writes_its_table_over_a_saved_run(tox_results, saved_run):
    shutil.copyfile(saved_run, tox_results / "verification.json")
    before = snapshot(tox_results)
    done = blitzbench("matrix", "torch24", "--verify", "--results-dir", tox_results, "--tox", "no-such-tox")
    assert_refused(done, "is a saved benchmark run, never overwritten")
    assert "no-such-tox" not in done.stderr  # refused before tox was looked for
    assert snapshot(tox_results) == before


def test_matrix_verify_never_replaces_a_folder_by_an_environments_results(tmp_path):
    """Each environment's verification.xml is checked before any environment is created."""
    (tmp_path / "results" / "torch24" / "verification.xml").mkdir(parents=True)
    calls = tmp_path / "calls.jsonl"
    fake_tox = f"{sys.executable} {ROOT / 'tests' / 'tools' / 'fake_tox.py'}"
    done = blitzbench("matrix", "torch24", "--verify", "--results-dir", tmp_path / "results", "--tox", fake_tox,
                      env={"FAKE_TOX_ENVS": "torch24", "FAKE_TOX_CALLS": str(calls)})
    assert_refused(done, "torch24/verification.xml: is a folder")
    assert not calls.exists() and (tmp_path / "results" / "torch24" / "verification.xml").is_dir()


def test_matrix_results_dir_is_never_a_file(saved_run):
    before = saved_run.read_bytes()
    assert_refused(blitzbench("matrix", "torch24", "--results-dir", saved_run), "is a file; accepted: a folder")
    assert saved_run.read_bytes() == before


def test_fidelity_json_never_writes_over_a_saved_run(saved_run):
    before = saved_run.read_bytes()
    assert_refused(blitzbench("fidelity", "--json", saved_run), "is a saved benchmark run, never overwritten")
    assert saved_run.read_bytes() == before


@pytest.mark.parametrize("where", ["--out", "OUT"])
def test_gpu_check_never_writes_into_a_folder_that_holds_a_saved_run(saved_run, where):
    before = snapshot(saved_run.parent)
    args, env = (["--out", saved_run.parent], {}) if where == "--out" else ([], {"OUT": str(saved_run.parent)})
    assert_refused(blitzbench("gpu-check", *args, env=env), f"{where} {saved_run.parent}: holds files already")
    assert_refused(blitzbench("gpu-check", "--out", saved_run), "is a file; accepted: a new or empty folder")
    assert snapshot(saved_run.parent) == before


# -- a folder, or an input, as an output: refused ------------------------------------------------------

def test_a_folder_as_an_output_is_refused(tmp_path, tox_results, capsys):
    (tox_results / "verification.md").mkdir()
    assert verification.main([str(tox_results), "--save"]) == 2
    assert f"--save {tox_results / 'verification.md'}: is a folder" in capsys.readouterr().err
    assert matrix.main(["torch24", "--verify", "--results-dir", str(tox_results)]) == 2
    assert "verification.md: is a folder" in capsys.readouterr().err
    assert fidelity.main(["--json", str(tmp_path)]) == 2
    assert "is a folder; accepted: a file name ending in .json" in capsys.readouterr().err
    assert not (tox_results / "verification.json").exists()


def test_an_output_that_is_one_of_the_inputs_is_refused(tox_results):
    env = sorted(p.parent.name for p in tox_results.glob("*/verification.xml"))[0]
    xml = tox_results / env / "verification.xml"
    before = xml.read_bytes()
    (tox_results / "verification.md").symlink_to(xml)  # the table's file is the saved results of env
    assert_refused(blitzbench("verification", tox_results, "--save"), "is one of the inputs")
    assert xml.read_bytes() == before and (tox_results / "verification.md").is_symlink()


def test_the_shared_checker_refuses_inputs_saved_runs_folders_and_twice_named_paths(tmp_path, saved_run):
    source = tmp_path / "in.json"
    source.write_text("{}")
    for outputs, inputs, says in [
        ({"--json": source}, [source], "one of the inputs"),
        ({"--json": saved_run}, [], "saved benchmark run"),
        ({"--json": tmp_path}, [], "is a folder"),
        ({"--json": tmp_path / "a.json", "--csv": tmp_path / "a.json"}, [], "also the output of --json"),
        ({"--json": source / "x.json"}, [], "is a file, not a folder"),
    ]:
        with pytest.raises(BadInput, match=says):
            check_outputs(outputs, inputs)
    check_outputs({"--json": tmp_path / "new.json", "--csv": None})  # a new file: accepted
    with pytest.raises(BadInput, match="holds files already"):
        check_output_folder("--out", saved_run.parent, empty=True)
    check_output_folder("--out", saved_run.parent)  # results added beside those there
    check_output_folder("--out", tmp_path / "new", empty=True)


# -- a subcommand that only reads writes nothing -----------------------------------------------------------

def test_verification_without_save_only_prints(tox_results, capsys):
    before = snapshot(tox_results)
    assert verification.main([str(tox_results)]) in (0, 1)
    out = capsys.readouterr().out
    assert "area" in out and "saved:" not in out
    assert snapshot(tox_results) == before
    assert verification.main([str(tox_results), "--save"]) in (0, 1)
    assert set(snapshot(tox_results)) - set(before) == {"verification.md", "verification.json"}


def test_gpu_targets_only_reads(saved_run, capsys):
    before = snapshot(saved_run.parent)
    from blitzbench.cli import gpu_targets

    assert gpu_targets.main([str(saved_run.parent)]) == 0
    assert "GPU targets" in capsys.readouterr().out
    assert snapshot(saved_run.parent) == before


# -- defaults follow the current folder ------------------------------------------------------------------

def test_verification_reads_and_saves_under_the_current_folder(tmp_path, tox_results, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    envs = sorted(p.name for p in tox_results.iterdir())
    assert verification.main([]) in (0, 1)
    out = capsys.readouterr().out
    assert all(env in out for env in envs)
    assert verification.main(["--save"]) in (0, 1)
    assert "saved: results/tox/verification.md and results/tox/verification.json" in capsys.readouterr().out
    assert (tox_results / "verification.md").is_file() and (tox_results / "verification.json").is_file()


def test_matrix_writes_under_the_current_folder(tmp_path, saved_run, monkeypatch, capsys):
    """Its default --results-dir is ./results/tox: a saved run there as the table's file is refused
    by that relative name, before any tox environment is looked for."""
    (tmp_path / "results" / "tox").mkdir(parents=True)
    shutil.copyfile(saved_run, tmp_path / "results" / "tox" / "verification.json")
    monkeypatch.chdir(tmp_path)
    assert matrix.main(["torch24", "--verify", "--tox", "no-such-tox"]) == 2
    err = capsys.readouterr().err
    assert "--results-dir results/tox/verification.json: is a saved benchmark run" in err


def test_gpu_check_and_fidelity_outputs_are_relative_to_the_current_folder(tmp_path, saved_run, monkeypatch):
    monkeypatch.chdir(saved_run.parent.parent)
    assert_refused(blitzbench("gpu-check", "--out", "run", cwd=Path.cwd()), "--out run: holds files already")
    assert_refused(blitzbench("fidelity", "--json", f"run/{saved_run.name}", cwd=Path.cwd()),
                   f"--json run/{saved_run.name}: is a saved benchmark run")
    monkeypatch.delenv("OUT", raising=False)
    assert gpu_check.chosen_out(None) == (None, "--out")  # the default, named after the GPU: results/gpu-check_<GPU>


def test_the_default_results_folder_is_relative():
    assert verification_table.DEFAULT_FOLDER == Path("results", "tox")
