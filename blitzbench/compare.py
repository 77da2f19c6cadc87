"""Both answers for two or more torch releases in one command (``blitzbench compare``): is each
correct, and what did it change in speed.

Per tox environment, three kinds of step, each a pytest process run with the environment's own
Python (environments that are ready are used as they are, blitzbench.matrix.not_ready):

* ``verify``: the verification of torch (blitzbench.analysis.verification.SUITE), its JUnit XML
  kept as ``OUT/<env>/verification.xml``;
* ``count``: one counted run of the benchmark selection (``--instructions``, blitzbench.measure.
  instructions), saved under ``OUT/<env>/`` with its callgrind profiles;
* ``round``: with ``rounds``, timed runs in interleaved rounds (A B, B A, ...: blitzbench.matrix.order),
  saved under ``OUT/<env>/``, for the report's paired time verdicts.

Verification and counting of different environments run ``jobs`` at once, the verifications
first, each step with its share of the cores as intra-op threads (:func:`plan`): counts do not
depend on the load, and checks do not time anything. Timed rounds run after them, one at a time, with
nothing beside them. One progress line per finished step, with the time elapsed and an estimate
of the time left (:class:`Estimates`). Each step's output goes to ``OUT/logs/<step>.log``; the
time of each step and the total are saved as ``OUT/steps.json``. A step that fails stops the
command (the steps running are stopped), naming the step and the end of its log; Ctrl-C stops
them too, and finished steps keep what they saved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from blitzbench import ROOT, matrix
from blitzbench.analysis import verification
from blitzbench.messages import BadInput, RunFailed, shown
from blitzbench.store import write_atomic

PROG = "blitzbench compare"
# The benchmark selection counted and timed when none is given after --: the quick CPU set.
DEFAULT_SELECTION = ["--quick", "--device", "cpu"]
COUNTED_FILES = ["bench/test_throughput.py"]  # the cases --instructions counts
TIMED_FILES = ["bench"]
RUN_OPTIONS = ["-q", "-p", "no:cacheprovider"]
STEPS_FILE = "steps.json"
# Seconds per step on a 2-core machine, two steps at once with one thread each (results/compare/;
# a quick CPU round alone, results/tox/): the estimate of the time left until a step of that kind
# has finished here.
DEFAULT_SECONDS = {"verify": 445.0, "count": 275.0, "round": 60.0}


def default_jobs() -> int:
    """Steps at once: one per CPU core."""
    return max(1, os.cpu_count() or 1)


@dataclass
class Step:
    kind: str  # verify, count, round
    env: str
    round: int = 0  # rounds: 1, 2, ...; other steps: 0
    command: list[str] = field(default_factory=list)
    threads: int | None = None  # intra-op threads (OMP_NUM_THREADS, MKL_NUM_THREADS); None: torch's default
    started: float | None = None  # seconds from the command's start
    seconds: float | None = None
    result: str = ""  # what it produced, in words
    saved: str | None = None  # the file it saved, relative to OUT

    @property
    def name(self) -> str:
        return f"{self.kind} {self.env}" + (f" round {self.round}" if self.round else "")

    @property
    def log_name(self) -> str:
        return f"{self.kind}-{self.env}" + (f"-round{self.round}" if self.round else "") + ".log"


class Estimates:
    """The time left: each step kind's measured mean once one has finished, DEFAULT_SECONDS before;
    steps that may run at once share the ``jobs`` slots."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.measured: dict[str, list[float]] = {}

    def record(self, step: Step) -> None:
        self.measured.setdefault(step.kind, []).append(step.seconds or 0.0)

    def of(self, kind: str) -> float:
        seen = self.measured.get(kind)
        return sum(seen) / len(seen) if seen else DEFAULT_SECONDS[kind]

    def left(self, waiting: list[Step], running: list[tuple[Step, float]], rounds_left: list[Step]) -> float:
        """Seconds left: the steps that may run at once, their work shared by the slots but never
        less than the longest of them, then the rounds one after another. ``running``: (step,
        seconds it has run), at least a tenth of its estimate: one near or past its end still has to finish."""
        remaining = [self.of(s.kind) for s in waiting]
        remaining += [max(0.1 * self.of(s.kind), self.of(s.kind) - ran) for s, ran in running]
        slots = max(1, min(self.jobs, len(remaining)))
        parallel = max(sum(remaining) / slots, max(remaining)) if remaining else 0.0
        return parallel + sum(self.of(s.kind) for s in rounds_left)


def selection(pytest_args: list[str]) -> list[str]:
    return list(pytest_args) if pytest_args else list(DEFAULT_SELECTION)


def plan(pythons: dict[str, Path], out: Path, rounds: int, jobs: int, isa: str, pytest_args: list[str],
         harness_tests: bool, run_id: str) -> tuple[list[Step], list[Step]]:
    """(the steps that may run at once, the timed rounds in their order); ``pythons``: each
    environment's Python, in the environments' order (the baseline first)."""
    envs = list(pythons)
    chosen = selection(pytest_args)
    # The cores shared among the steps that run at once; a counting step's share is its valgrind processes.
    counting_jobs = max(1, (os.cpu_count() or 1) // max(1, min(jobs, 2 * len(envs))))
    # The cores are shared among the steps that run at once: each gets its share as its intra-op
    # threads (and a counting step as its valgrind processes). More threads than that would not be
    # faster: torch's OpenMP threads spin at their barriers while a neighbour holds their core
    # (a verification's training checks ran 3.5 times slower beside one busy process, 1.3 times
    # with one thread).
    share = max(1, (os.cpu_count() or 1) // max(1, min(jobs, 2 * len(envs))))
    verify, count = [], []
    for env in envs:
        python = str(pythons[env])
        folder = out / env
        verify.append(Step("verify", env, threads=share, command=[
            python, "-m", "pytest", *verification.SUITE, *([verification.HARNESS_TESTS] if harness_tests else []),
            *verification.RUN_OPTIONS, f"--junitxml={_partial_xml(out, env)}"]))
        count.append(Step("count", env, threads=share, command=[
            python, "-m", "pytest", *COUNTED_FILES, "--benchmark-only", *RUN_OPTIONS, "--results-dir", str(folder),
            "--series", env, "--round", "1", "--matrix-id", f"{run_id}-count", "--instructions",
            "--counting-isa", isa, "--instructions-jobs", str(share), *chosen]))
    # The longest steps first (verifications), so that the last to finish are counting steps, which
    # use their cores fully (valgrind runs one thread at a time).
    parallel = verify + count
    timed = [Step("round", env, r, [str(pythons[env]), "-m", "pytest", *TIMED_FILES,
                                    "--benchmark-only", *RUN_OPTIONS, "--results-dir", str(out / env),
                                    "--series", env, "--round", str(r), "--matrix-id", run_id, *chosen])
             for r, env in matrix.schedule(envs, rounds)]
    return parallel, timed


@dataclass
class Running:
    step: Step
    process: subprocess.Popen
    log: object
    before: set


def _partial_xml(out: Path, env: str) -> Path:
    """Where a verification step's pytest writes its JUnit XML, replaced into place when it ends."""
    return out / env / f".{verification.RESULT_FILE}.partial"


def _start(step: Step, out: Path, began: float) -> Running:
    folder = out / step.env
    log = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        log = open(out / "logs" / step.log_name, "w", encoding="utf-8")
        log.write(f"$ {' '.join(step.command)}\n")
        log.flush()
        step.started = time.perf_counter() - began
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        if step.threads is not None:
            env.update(OMP_NUM_THREADS=str(step.threads), MKL_NUM_THREADS=str(step.threads))
        # SIGINT at its default in the step (stop_all stops it so, first), whatever this process inherited.
        process = subprocess.Popen(step.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    except OSError as error:
        if log is not None:
            log.close()
        raise RunFailed(f"{step.name} could not be started: {error.strerror or error}"
                        + (f" ({shown(Path(error.filename))})" if error.filename else "")) from None
    return Running(step, process, log, set(folder.glob("*.json")))


def stop_all(running: list[Running], out: Path) -> None:
    """Stop every running step's process group (SIGINT, then SIGTERM, then SIGKILL, each with one
    deadline for all), with a second Ctrl-C ignored meanwhile; a stopped verification's partial
    XML is removed (the previous verification.xml, if any, stays)."""
    with matrix.ignoring_interrupts():
        for sig, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            alive = [r for r in running if r.process.poll() is None]
            for r in alive:
                try:
                    os.killpg(r.process.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            for r in alive:
                try:
                    r.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for r in running:
            r.log.close()
            if r.step.kind == "verify":
                _partial_xml(out, r.step.env).unlink(missing_ok=True)


def _failed(r: Running, out: Path, why: str) -> RunFailed:
    return RunFailed(f"{r.step.name} failed ({why}); the end of {shown(out / 'logs' / r.step.log_name)}:\n"
                     + matrix.log_tail(out / "logs" / r.step.log_name))


def _finish(r: Running, out: Path) -> None:
    """Check what a finished step produced and describe it, or raise RunFailed."""
    step, status = r.step, r.process.returncode
    folder = out / step.env
    if step.kind == "verify":
        partial = _partial_xml(out, step.env)
        # pytest: 0 all passed, 1 some failed; anything else means the suite did not run.
        wrote = partial.exists()
        if status not in (0, 1) or not wrote:
            partial.unlink(missing_ok=True)
            raise _failed(r, out, f"exit {status}" + ("" if wrote else ", no JUnit XML written"))
        final = folder / verification.RESULT_FILE
        try:
            run = verification.read_run(partial, step.env)
        except BadInput as error:
            partial.unlink(missing_ok=True)
            raise _failed(r, out, str(error)) from None
        os.replace(partial, final)
        step.result = f"torch {run.torch}: {matrix.counts_text(run.counts())}"
        step.saved = str(final.relative_to(out))
        return
    new = sorted(set(folder.glob("*.json")) - r.before)
    if status != 0 or len(new) != 1:
        raise _failed(r, out, f"exit {status}" if status != 0 else f"it saved {len(new)} runs instead of one")
    step.saved = str(new[0].relative_to(out))
    if step.kind == "count":
        seconds = matrix.counting_seconds(new[0])
        step.result = "counted" + (f" in {matrix.duration_text(seconds)} of valgrind" if seconds is not None else "")
    else:
        step.result = "timed"


class Progress:
    def __init__(self, total: int, began: float, out=sys.stdout):
        self.total, self.done, self.began, self.out = total, 0, began, out

    def line(self, step: Step, left: float) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.began
        print(f"[{self.done}/{self.total}] {step.name}: {step.result} ({matrix.duration_text(step.seconds or 0)})"
              f"; elapsed {matrix.duration_text(elapsed)}, about {matrix.duration_text(left)} left",
              file=self.out, flush=True)


def run_steps(parallel: list[Step], timed: list[Step], out: Path, jobs: int, progress: Progress,
              estimates: Estimates) -> None:
    """The parallel steps ``jobs`` at once, in their order, then the timed rounds one at a time."""
    waiting, running = list(parallel), []
    began = progress.began
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                running.append(_start(waiting.pop(0), out, began))
            time.sleep(0.5)
            for r in [r for r in running if r.process.poll() is not None]:
                running.remove(r)
                r.log.close()
                r.step.seconds = time.perf_counter() - began - r.step.started
                _finish(r, out)
                estimates.record(r.step)
                now = time.perf_counter() - began
                progress.line(r.step, estimates.left(waiting, [(x.step, now - x.step.started) for x in running], timed))
        for i, step in enumerate(timed):
            r = _start(step, out, began)
            running = [r]
            r.process.wait()
            running = []
            r.log.close()
            step.seconds = time.perf_counter() - began - step.started
            _finish(r, out)
            estimates.record(step)
            progress.line(step, estimates.left([], [], timed[i + 1:]))
    except BaseException:
        stop_all(running, out)
        raise


def save_steps(out: Path, record: dict) -> Path:
    return write_atomic(out / STEPS_FILE, json.dumps(record, indent=1) + "\n")


def run_compare(envs: list[str], out: Path, tox: list[str], jobs: int, rounds: int, isa: str,
                pytest_args: list[str], harness_tests: bool = False, stream=sys.stdout) -> dict:
    """Make ready the environments, run every step, save OUT/steps.json; the record of the steps."""
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = out.resolve()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    estimates = Estimates(jobs)
    steps = len(envs) * (2 + rounds)
    print(f"{PROG}: {', '.join(envs)}: verification and one counted run each ({jobs} step{'s' * (jobs != 1)} at "
          f"once, --counting-isa {isa})" + (f", then {rounds} timed round{'s' * (rounds != 1)}" if rounds else "")
          + f": {steps} steps; logs: {shown(out / 'logs')}", file=stream, flush=True)
    with open(out / "logs" / "environments.log", "a", encoding="utf-8") as log:
        pythons = matrix.make_ready(envs, tox, log, out / "logs" / "environments.log", stream)
    ready_seconds = time.perf_counter() - began
    parallel, timed = plan(pythons, out, rounds, jobs, isa, pytest_args, harness_tests, run_id)
    total = len(parallel) + len(timed)
    print(f"{PROG}: environments ready in {matrix.duration_text(ready_seconds)}; about "
          f"{matrix.duration_text(estimates.left(parallel, [], timed))} to go", file=stream, flush=True)
    progress = Progress(total, began, stream)
    record = {"command": [PROG, ",".join(envs)], "envs": envs, "jobs": jobs, "cpu_count": os.cpu_count(),
              "counting_isa": isa, "rounds": rounds, "selection": selection(pytest_args),
              "started": datetime.now().isoformat(timespec="seconds"),
              "environments_ready_seconds": round(ready_seconds, 1)}
    try:
        run_steps(parallel, timed, out, jobs, progress, estimates)
    finally:
        record["steps"] = [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in asdict(s).items()
                            if k != "command"} for s in [*parallel, *timed]]
        record["steps_seconds"] = round(time.perf_counter() - began - ready_seconds, 1)
        save_steps(out, record)
    return record
