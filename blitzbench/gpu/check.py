"""What ``blitzbench gpu-check`` runs (blitzbench.cli.gpu_check), in one budget of 10 minutes at most:
the steps (:data:`STEPS`), each in its own process under its limit (:func:`limit`: the budget's end
less the seconds the later steps reserve), logged to gpu-check.log (:func:`run_steps`); the wheels
carried in ``.whl/`` installed for the run (:func:`install_wheels`); nvidia-smi's record of the GPU.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from blitzbench import ROOT

PROG = "blitzbench gpu-check"
BUDGET_S = 540  # one 600 s call: the budget, 30 s for a step that ignores its interrupt, 30 s to start
KILL_AFTER_S = 30  # a step that ignores SIGINT at its limit is killed this much later
SITE = Path("/tmp/blitzbench-site")  # where carried wheels are installed for the run
WHEELS = ROOT / ".whl"
# The modules the suite imports (pyproject's dependencies by their import names, setuptools aside).
MODULES = ("torch", "torchvision", "pytest", "pytest_benchmark", "tabulate", "sklearn", "mlxtend")
FIDELITY_CASES = ("chapter_net-cuda-bs64-forward", "lenet-cuda-bs64-train_step-cudagraph")
PYTEST_QUIET = ("-q", "-p", "no:cacheprovider")
BENCHMARK_COLUMNS = "--benchmark-columns=median,iqr,rounds"


@dataclass(frozen=True)
class Step:
    name: str
    args: tuple[str, ...]  # after the python executable; "{out}" stands for the output folder
    reserve_s: int         # seconds this step is sure to get, held back from the steps before it


STEPS: tuple[Step, ...] = (
    Step("lenet training step in every mode, batch 64 and 4096",
         ("-m", "pytest", "bench/test_throughput.py", "--benchmark-only", "--device", "cuda", "--models", "lenet",
          "--phases", "train_step", "--batch-sizes", "64,4096", "--modes", "eager,compiled,reduce-overhead,cudagraph",
          "--results-dir", "{out}", *PYTEST_QUIET, BENCHMARK_COLUMNS), 0),
    Step("fidelity: suite median vs independent timing (CUDA events), one process per measurement",
         ("-m", "blitzbench", "fidelity", "--cases", ",".join(FIDELITY_CASES), "--repeats", "3",
          "--min-run-time", "0.5", "--json", "{out}/fidelity.json"), 90),
    Step("verification, CUDA cases (every mode against eager)",
         ("-m", "pytest", "bench", "tests", "-m", "cuda", "-k", "not test_throughput", "--benchmark-disable",
          "--device", "cuda", *PYTEST_QUIET), 100),
    Step("quick benchmarks, cpu and cuda, eager and cudagraph",
         ("-m", "pytest", "bench", "--benchmark-only", "--quick", "--device", "cpu,cuda", "--modes", "eager,cudagraph",
          "--deselect", "bench/test_time_to_accuracy.py::test_time_to_accuracy[cpu-tutorial]",
          "--deselect", "bench/test_time_to_accuracy.py::test_time_to_accuracy[cuda-tutorial]",
          "--results-dir", "{out}", *PYTEST_QUIET, BENCHMARK_COLUMNS), 90),
    Step("the GPU targets, from what the steps saved", ("-m", "blitzbench", "gpu-targets", "{out}"), 15),
)


def limit(step_index: int, deadline: float, now: float, steps: tuple[Step, ...] = STEPS) -> int:
    """Seconds step ``step_index`` may run: to the deadline, less what the later steps reserve."""
    later = sum(step.reserve_s for step in steps[step_index + 1:])
    return int(deadline - now - later)


class Log:
    """Lines to the terminal and to gpu-check.log at once."""

    def __init__(self, path: Path):
        self.file = open(path, "a", encoding="utf-8")

    def line(self, text: str) -> None:
        print(text, flush=True)
        self.file.write(text + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def run_step(command: list[str], seconds: int, log: Log, env: dict) -> int:
    """Run ``command`` with its output in the log; at ``seconds`` it gets SIGINT (pytest then
    ends cleanly), KILL_AFTER_S later SIGKILL. 124 when it was stopped at its limit."""
    # SIGINT at its default in the step, which is stopped by it: a command started in the
    # background by a shell (nohup ... &) inherits SIGINT ignored, and would run on to SIGKILL.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    started = time.monotonic()
    stopped = False

    def watchdog():
        nonlocal stopped
        if process.poll() is None and time.monotonic() - started >= seconds:
            stopped = True
            _signal(process, signal.SIGINT)
            try:
                process.wait(timeout=KILL_AFTER_S)
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)

    timer = threading.Timer(seconds, watchdog)
    timer.daemon = True
    timer.start()
    try:
        for line in process.stdout:
            log.line(line.rstrip("\n"))
        status = process.wait()
    finally:
        timer.cancel()
    return 124 if stopped else status


def _signal(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def run_steps(out: Path, python: str, budget_s: int, env: dict, steps: tuple[Step, ...] = STEPS,
              header: str = "") -> int:
    """Every step under one budget, logged to ``out``/gpu-check.log; 0 when every step passed."""
    started = time.monotonic()
    deadline = started + budget_s
    log = Log(out / "gpu-check.log")
    status = 0
    try:
        if header:
            log.line(header)
        for index, step in enumerate(steps):
            t0 = time.monotonic()
            seconds = limit(index, deadline, t0, steps)
            if seconds < 2:
                log.line(f"gpu-check: {step.name} not run: the budget is spent")
                status = 1
                continue
            log.line(f"== {step.name} (limit {seconds} s)")
            command = [python, *(arg.replace("{out}", str(out)) for arg in step.args)]
            code = run_step(command, seconds, log, env)
            if code == 124:
                log.line(f"gpu-check: {step.name} stopped at its {seconds} s limit")
            if code != 0:
                status = 1
            log.line(f"== {step.name}: {time.monotonic() - t0:.0f} s, exit {code}")
        log.line(f"gpu-check: {time.monotonic() - started:.0f} s, exit {status}")
    finally:
        log.close()
    return status


def install_wheels(python: str, wheels: Path = WHEELS, site: Path = SITE) -> str | None:
    """Install the wheels carried in ``wheels`` into ``site``; None, or one line saying what failed."""
    found = sorted(wheels.glob("*.whl")) if wheels.is_dir() else []
    if not found:
        return None
    done = subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                           "--no-cache-dir", "--upgrade", "--target", str(site), *map(str, found)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{PROG}: could not install the wheels in {wheels} into {site}: {last}"
    return None


def gpu_folder_name() -> str:
    import torch

    return "gpu-check_" + torch.cuda.get_device_name(0).replace(" ", "-")


def steps_environment() -> dict:
    """The steps' environment: this one, with :data:`SITE` first on PYTHONPATH (and on this
    process's sys.path) when wheels were carried in ``.whl/``."""
    env = dict(os.environ)
    if WHEELS.is_dir() and any(WHEELS.glob("*.whl")):
        sys.path.insert(0, str(SITE))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE), env.get("PYTHONPATH")]))
    return env


def save_gpu_record(out: Path) -> None:
    """nvidia-smi's view of the GPU (name, memory, driver, clocks, power limit) as ``out``/nvidia-smi.csv,
    where nvidia-smi is found and answers."""
    if shutil.which("nvidia-smi"):
        query = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit",
                                "--format=csv"], capture_output=True, text=True)
        if query.returncode == 0:
            (out / "nvidia-smi.csv").write_text(query.stdout)


def header() -> str:
    """The log's first line: the GPU, torch and CUDA."""
    import torch

    return f"gpu-check: {torch.cuda.get_device_name(0)} torch {torch.__version__} CUDA {torch.version.cuda}"
