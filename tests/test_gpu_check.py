"""`make gpu-check` cannot run without a GPU, but its commands can be checked here: every pytest
command it runs collects cases with its options (a typo in an option would be a usage error on
the GPU machine, where device time is scarce), and the fidelity step's case ids parse."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def gpu_check_commands() -> list[list[str]]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed here")
    dry = subprocess.run(["make", "-n", "gpu-check-steps", "OUT_DIR=OUT", "GPU_PY=PYX"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    commands = []
    for part in dry.stdout.replace("\\\n", " ").split(";"):
        part = part.split("||")[0]
        if "PYX -m" in part:  # a step: step LIMIT "name" PYX -m ...
            command = part[part.index("PYX -m"):].strip()
            commands.append([sys.executable] + shlex.split(command.replace('"$out', '"OUT'))[1:])
    return commands


def test_gpu_check_runs_the_verification_the_benchmarks_and_the_fidelity_check():
    modules = [command[2] for command in gpu_check_commands()]
    assert modules == ["pytest", "blitzbench.measure.fidelity", "pytest", "pytest", "blitzbench.gpu.targets"]  # the GPU targets first


def test_gpu_check_fits_one_call_of_a_lent_gpu_machine():
    """A call on a lent machine may run 600 s: the budget, plus the 30 s a step that ignores its
    interrupt gets before it is killed, plus half a minute for the first lines and the wheels'
    install, must fit; and each step's reserve must leave the first step time of its own."""
    makefile = (ROOT / "Makefile").read_text()
    budget = int(makefile.split("\nGPU_BUDGET        ?=", 1)[1].split("\n", 1)[0])
    reserves = [int(x) for x in makefile.split("\nGPU_STEP_RESERVES ?=", 1)[1].split("\n", 1)[0].split()]
    assert len(reserves) == len(gpu_check_commands())
    assert budget + 30 + 30 <= 600 and budget - sum(reserves) >= 120


def test_a_step_gets_what_the_earlier_ones_left_and_one_past_its_limit_is_named(tmp_path):
    """The steps with a stand-in python whose first step takes 30 s and the rest no time: under a
    20 s budget with 3 s reserved for each later step, the first is stopped at 20 - 12 = 8 s and
    named; the last gets what the others left, far more than its reserve."""
    if shutil.which("make") is None or shutil.which("timeout") is None:
        pytest.skip("make and timeout are needed")
    fake = tmp_path / "python"
    fake.write_text('#!/bin/bash\ncase "$*" in *test_throughput.py*) sleep 30;; esac\n')
    fake.chmod(0o755)
    done = subprocess.run(["make", "-s", "gpu-check-steps", f"OUT_DIR={tmp_path}", f"GPU_PY={fake}",
                           "GPU_BUDGET=20", "GPU_STEP_RESERVES=0 3 3 3 3"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    limits = [int(line.rsplit("(limit ", 1)[1].split()[0]) for line in done.stdout.splitlines() if "(limit " in line]
    assert len(limits) == 5 and limits[0] in (7, 8), done.stdout
    assert f"gpu-check: lenet training step in every mode, batch 64 and 4096 -> {tmp_path} stopped at its" in done.stdout
    assert limits[-1] >= 10
    assert done.returncode != 0 and done.stdout.rstrip().splitlines()[-1].endswith("exit 1")


def test_every_pytest_command_of_gpu_check_collects_cases():
    for command in gpu_check_commands():
        if command[2] != "pytest":
            continue
        done = subprocess.run(command + ["--collect-only"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{shlex.join(command[1:])}:\n{done.stdout[-1500:]}{done.stderr[-1500:]}"
        assert " collected" in done.stdout or "tests collected" in done.stdout, done.stdout[-500:]


def test_the_first_step_times_lenets_training_step_in_all_four_modes_at_64_and_4096():
    command = gpu_check_commands()[0]
    done = subprocess.run(command + ["--collect-only"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    ids = sorted(line.split("[", 1)[1].rstrip("]") for line in done.stdout.splitlines() if "test_throughput[" in line)
    expected = sorted(f"lenet-cuda-bs{bs}-train_step" + (f"-{mode}" if mode != "eager" else "")
                      for bs in (64, 4096) for mode in ("eager", "compiled", "reduce-overhead", "cudagraph"))
    assert ids == expected, done.stdout[-800:]


def test_the_suite_runs_of_gpu_checks_fidelity_cases_collect_that_case_alone(tmp_path):
    """Each fidelity measurement starts pytest on one case id with the options that select it; a
    mismatch would collect nothing (and fail) on the GPU machine, so it is checked here."""
    from blitzbench.measure.fidelity import parse_case, suite_arguments

    (fidelity,) = [c for c in gpu_check_commands() if c[2] == "blitzbench.measure.fidelity"]
    for text in fidelity[fidelity.index("--cases") + 1].split(","):
        case = parse_case(text)
        done = subprocess.run([sys.executable, *suite_arguments(case, tmp_path, tmp_path / "out.json"), "--collect-only"],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
        assert f"test_throughput[{case.id}]" in done.stdout and "1 test collected" in done.stdout, done.stdout[-500:]


def test_the_fidelity_cases_of_gpu_check_are_valid_ids():
    from blitzbench.measure.fidelity import parse_case

    (fidelity,) = [c for c in gpu_check_commands() if c[2] == "blitzbench.measure.fidelity"]
    cases = fidelity[fidelity.index("--cases") + 1].split(",")
    parsed = [parse_case(case) for case in cases]
    assert {case.device for case in parsed} == {"cuda"} and any(case.mode == "cudagraph" for case in parsed)


def test_preflight_names_a_missing_module_in_one_line_and_exits_2(capsys):
    from blitzbench.gpu import preflight as gpu_preflight

    assert gpu_preflight.main(["torch", "no_such_module_blitzbench"]) == 2
    line = capsys.readouterr().err
    assert line.count("\n") == 1 and "lacks no_such_module_blitzbench;" in line and "make gpu-wheels" in line
    assert "torch," not in line  # only what is missing is named as missing


def test_preflight_without_cuda_says_so(capsys):
    from blitzbench.gpu import preflight as gpu_preflight
    from blitzbench.measure.devices import unavailable_reason

    if unavailable_reason("cuda") is None:
        assert gpu_preflight.main(["torch"]) == 0
    else:
        assert gpu_preflight.main(["torch"]) == 2
        assert "sees no CUDA device" in capsys.readouterr().err


def test_gpu_check_installs_carried_wheels_and_checks_every_module_the_suite_imports():
    """The GPU machines have no registry: wheels in .whl/ are installed before the preflight, and
    the preflight covers the suite's own dependencies (pyproject's), importable names."""
    import tomllib

    makefile = (ROOT / "Makefile").read_text()  # not make -n: a recipe that calls $(MAKE) runs under -n
    recipe = makefile.split("\ngpu-check:\n", 1)[1].split("\n\n", 1)[0].replace("\\\n", " ")
    assert recipe.index("pip install") < recipe.index("-m blitzbench.gpu.preflight") < recipe.index("gpu-check-steps")
    modules = makefile.split("\nGPU_MODULES ?=", 1)[1].split("\n", 1)[0].split()
    assert "$(GPU_MODULES)" in recipe.split("-m blitzbench.gpu.preflight", 1)[1].split("||")[0]
    checked = set(modules)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    importable = {"pytest-benchmark": "pytest_benchmark", "scikit-learn": "sklearn"}
    needed = {importable.get(name, name) for name in
              (d.split(">")[0].split("<")[0].split("=")[0].strip() for d in declared)} - {"setuptools"}
    assert needed <= checked, f"not checked before gpu-check starts: {needed - checked}"


def test_gpu_wheels_requirements_reach_pip_quoted():
    """A requirement such as mlxtend>=0.23 unquoted in the recipe is a shell redirection: pip
    gets a bare name and a file named '=0.23' appears."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed here")
    dry = subprocess.run(["make", "-n", "gpu-wheels"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    (line,) = [part for part in dry.stdout.replace("\\\n", " ").splitlines() if "pip download" in part]
    words = list(shlex.shlex(line, posix=True, punctuation_chars=True))  # as the shell splits: > is a redirection
    assert "mlxtend>=0.23" in words, words
