"""``blitzbench gpu-check``: what a machine with an NVIDIA GPU is checked by, in one command of
10 minutes at most (docs/gpu.md).

Steps, in order of what they prove (:data:`STEPS`):

1. lenet's training step at batch 64 and 4096 in all four modes (the GPU targets of docs/gpu.md);
2. the fidelity cross-check of two CUDA cases against CUDA-event timing, each measurement in
   its own process;
3. the verification suite's CUDA cases (every execution mode checked against eager);
4. the quick benchmark set on CPU and CUDA in eager and cudagraph modes (for the CUDA / CPU
   column), less the tutorial loop to 95% (its DataLoader is host work: 3 seeds of about 25 s
   on the H100 host's CPU and 7.5 s on its GPU in the old record);
5. the GPU targets, read from what steps 1 and 4 saved.

All run under one budget (:data:`BUDGET_S`): a step may run until the budget's end less the
seconds reserved for the steps after it (each step's ``reserve_s``: what it is sure to get), so
time a step leaves unused goes to the next. A step stopped at its limit is named in the log and
fails the check; every step's time and exit status are logged. Before the steps: wheels found
in ``.whl/`` (``make gpu-wheels``, for machines with no package registry) are installed into
:data:`SITE` for the run, and the preflight checks that every module the suite imports can be
found and that torch sees a CUDA device. Writes the runs' JSON and Markdown, fidelity.json,
nvidia-smi.csv and gpu-check.log into ``--out`` (default: the folder in the OUT environment variable
when set, else ``results/gpu-check_<GPU name>/`` in the current folder): seven files. That folder
must be new or empty, so that an earlier check's results are never overwritten (checked before
anything runs). Exit status 0 when every step passed, 1 when one failed, 2 on bad input.
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
from blitzbench.cli.args import BadInput, OneLineParser, check_output_folder, positive_int
from blitzbench.gpu.preflight import problem

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
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1, start_new_session=True)
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


def chosen_out(out: Path | None) -> tuple[Path | None, str]:
    """The folder asked for (--out, else $OUT; None: the default, named after the GPU) and the
    option that named it."""
    if out is not None:
        return out, "--out"
    if os.environ.get("OUT"):
        return Path(os.environ["OUT"]), "OUT"
    return None, "--out"


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="a new or empty folder for the results (default: the folder in the OUT environment variable "
                        "when set, else results/gpu-check_<GPU name>/ in the current folder)")
    p.add_argument("--budget", type=positive_int, default=BUDGET_S, metavar="S",
                   help=f"seconds for all the steps together (default: {BUDGET_S})")
    args = p.parse_args(argv)
    reserved = sum(step.reserve_s for step in STEPS)
    if args.budget <= reserved:
        p.error(f"--budget {args.budget}: the steps reserve {reserved} s; accepted: more than {reserved}")
    out, option = chosen_out(args.out)
    try:
        if out is not None:
            check_output_folder(option, out, empty=True)
    except BadInput as error:
        p.error(str(error))
    failed = install_wheels(sys.executable)
    if failed:
        print(failed, file=sys.stderr)
        return 2
    env = dict(os.environ)
    if WHEELS.is_dir() and any(WHEELS.glob("*.whl")):
        sys.path.insert(0, str(SITE))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE), env.get("PYTHONPATH")]))
    line = problem(list(MODULES))
    if line:
        print(line, file=sys.stderr)
        return 2
    import torch

    if out is None:
        out = Path("results") / gpu_folder_name()
        try:
            check_output_folder(option, out, empty=True)
        except BadInput as error:
            p.error(str(error))
    out = out.resolve()  # the steps run in the suite's checkout
    out.mkdir(parents=True, exist_ok=True)
    if shutil.which("nvidia-smi"):
        query = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit",
                                "--format=csv"], capture_output=True, text=True)
        if query.returncode == 0:
            (out / "nvidia-smi.csv").write_text(query.stdout)
    header = f"gpu-check: {torch.cuda.get_device_name(0)} torch {torch.__version__} CUDA {torch.version.cuda}"
    return run_steps(out, sys.executable, args.budget, env, header=header)
