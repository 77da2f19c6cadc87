"""blitzbench gpu-check cannot run without a GPU, but its plan can be checked here: the steps and
their budget (data in blitzbench.gpu.check), the budget's arithmetic on stand-in steps, every
pytest command it runs collecting cases with its options (a typo in an option would be a usage
error on the GPU machine, where device time is scarce), and the fidelity step's case ids."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blitzbench.cli import gpu_check
from blitzbench.gpu import check

ROOT = Path(__file__).resolve().parents[1]


def gpu_check_commands() -> list[list[str]]:
    return [[sys.executable, *(a.replace("{out}", "OUT") for a in step.args)] for step in check.STEPS]


def test_gpu_check_runs_the_verification_the_benchmarks_and_the_fidelity_check():
    modules = [command[2] if command[2] != "blitzbench" else command[3] for command in gpu_check_commands()]
    assert modules == ["pytest", "fidelity", "pytest", "pytest", "gpu-targets"]  # the GPU targets first


def test_gpu_check_fits_one_call_of_a_lent_gpu_machine():
    """A call on a lent machine may run 600 s: the budget, plus the 30 s a step that ignores its
    interrupt gets before it is killed, plus half a minute for the first lines and the wheels'
    install, must fit; and the reserves must leave the first step time of its own."""
    reserves = [step.reserve_s for step in check.STEPS]
    assert check.BUDGET_S + check.KILL_AFTER_S + 30 <= 600 and check.BUDGET_S - sum(reserves) >= 120
    # a step may run to the deadline less what the later ones reserve
    assert check.limit(0, deadline=540, now=0) == 540 - sum(reserves[1:])
    assert check.limit(len(reserves) - 1, deadline=540, now=500) == 40


def test_a_step_gets_what_the_earlier_ones_left_and_one_past_its_limit_is_named(tmp_path):
    """Stand-in steps, the first taking 30 s and the rest no time: under a 20 s budget with 3 s
    reserved for each later step, the first is stopped at 20 - 12 = 8 s and named; the last gets
    what the others left, far more than its reserve; the check fails."""
    steps = (check.Step("slow", ("-c", "import time; time.sleep(30)"), 0),
             *(check.Step(f"quick {i}", ("-c", "print('ran in {out}')"), 3) for i in range(4)))
    status = check.run_steps(tmp_path, sys.executable, 20, {}, steps)
    log = (tmp_path / "gpu-check.log").read_text()
    limits = [int(line.rsplit("(limit ", 1)[1].split()[0]) for line in log.splitlines() if "(limit " in line]
    assert len(limits) == 5 and limits[0] in (7, 8), log
    assert "gpu-check: slow stopped at its" in log and f"ran in {tmp_path}" in log
    assert limits[-1] >= 10
    assert status == 1 and log.rstrip().splitlines()[-1].endswith("exit 1")


def test_a_step_with_no_budget_left_is_not_run_and_fails_the_check(tmp_path):
    steps = (check.Step("first", ("-c", "import time; time.sleep(3)"), 0), check.Step("second", ("-c", "pass"), 0))
    status = check.run_steps(tmp_path, sys.executable, 3, {}, steps)
    log = (tmp_path / "gpu-check.log").read_text()
    assert "gpu-check: second not run: the budget is spent" in log and status == 1


def test_passing_steps_pass_the_check(tmp_path):
    steps = (check.Step("one", ("-c", "pass"), 0), check.Step("two", ("-c", "pass"), 1))
    assert check.run_steps(tmp_path, sys.executable, 30, {}, steps, header="gpu-check: a header") == 0
    log = (tmp_path / "gpu-check.log").read_text()
    assert log.startswith("gpu-check: a header") and "== two:" in log and log.rstrip().endswith("exit 0")


def test_a_budget_below_the_reserves_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        gpu_check.main(["--budget", "100"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    reserved = sum(step.reserve_s for step in check.STEPS)  # 0 + 90 + 100 + 90 + 15
    assert err.count("\n") == 1 and f"the steps reserve {reserved} s; accepted: more than {reserved}" in err


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

    (fidelity,) = [c for c in gpu_check_commands() if c[2:4] == ["blitzbench", "fidelity"]]
    for text in fidelity[fidelity.index("--cases") + 1].split(","):
        case = parse_case(text)
        done = subprocess.run([sys.executable, *suite_arguments(case, tmp_path, tmp_path / "out.json"), "--collect-only"],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
        assert f"test_throughput[{case.id}]" in done.stdout and "1 test collected" in done.stdout, done.stdout[-500:]


def test_the_fidelity_cases_of_gpu_check_are_valid_ids():
    from blitzbench.measure.fidelity import parse_case

    (fidelity,) = [c for c in gpu_check_commands() if c[2:4] == ["blitzbench", "fidelity"]]
    cases = fidelity[fidelity.index("--cases") + 1].split(",")
    parsed = [parse_case(case) for case in cases]
    assert {case.device for case in parsed} == {"cuda"} and any(case.mode == "cudagraph" for case in parsed)


def test_preflight_names_a_missing_module_in_one_line_and_exits_2(capsys):
    from blitzbench.gpu import preflight as gpu_preflight

    line = gpu_preflight.problem(["torch", "no_such_module_blitzbench"]) + "\n"
    assert line.count("\n") == 1 and "lacks no_such_module_blitzbench;" in line and "make gpu-wheels" in line
    assert "torch," not in line  # only what is missing is named as missing


def test_preflight_without_cuda_says_so(capsys):
    from blitzbench.gpu import preflight as gpu_preflight
    from blitzbench.measure.devices import unavailable_reason

    if unavailable_reason("cuda") is None:
        assert gpu_preflight.problem(["torch"]) is None
    else:
        assert "sees no CUDA device" in gpu_preflight.problem(["torch"])


def test_gpu_check_installs_carried_wheels_and_checks_every_module_the_suite_imports(tmp_path):
    """The GPU machines have no registry: wheels in .whl/ are installed before the preflight, and
    the preflight covers the suite's own dependencies (pyproject's), importable names."""
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    importable = {"pytest-benchmark": "pytest_benchmark", "scikit-learn": "sklearn"}
    needed = {importable.get(name, name) for name in
              (d.split(">")[0].split("<")[0].split("=")[0].strip() for d in declared)} - {"setuptools"}
    assert needed <= set(check.MODULES), f"not checked before gpu-check starts: {needed - set(check.MODULES)}"
    assert check.install_wheels(sys.executable, wheels=tmp_path / "none") is None  # nothing carried: nothing to do
    (tmp_path / "broken-0.1-py3-none-any.whl").write_text("not a wheel")
    failed = check.install_wheels(sys.executable, wheels=tmp_path, site=tmp_path / "site")
    assert failed.startswith("blitzbench gpu-check: could not install the wheels in") and "\n" not in failed


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
