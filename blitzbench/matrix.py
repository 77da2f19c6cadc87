"""Interleaved runs of tox environments: how to compare torch releases on a machine that drifts.

:func:`run_matrix` creates the environments (``tox -e ENV --notest``), then runs each one's
benchmark command once per round (``tox -e ENV -- PYTEST_ARGS``), in the listed order in odd
rounds and in reverse in even ones (:func:`order`: A B, B A, A B, ...), each run saved by the suite
under ``DIR/<env>/`` with its series, round and matrix id in ``machine_info["blitzbench_matrix"]``
and its output in ``DIR/matrix-<id>.log``. :func:`run_verification` runs the verification of
torch (blitzbench.analysis.verification.SUITE) once in each environment, keeps each one's JUnit
XML as ``DIR/<env>/verification.xml`` and saves the table of checks by release. A run that fails
raises RunFailed naming the environment; Ctrl-C stops the run in progress and keeps the finished
ones. The command, and why runs are interleaved: ``blitzbench matrix`` (blitzbench.cli.matrix).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from blitzbench import ROOT
from blitzbench.analysis import verification
from blitzbench.messages import BadInput, RunFailed, shown
from blitzbench.analysis.paired_stats import MIN_ROUNDS

PROG = "blitzbench matrix"
NOT_BENCHMARKS = ("report",)  # tox environments that run no benchmarks
DEFAULT_ROUNDS = MIN_ROUNDS


def order(envs: list[str], round_number: int) -> list[str]:
    """The environments of round ``round_number`` (from 1): as listed when odd, reversed when even."""
    return list(envs) if round_number % 2 else list(reversed(envs))


def schedule(envs: list[str], rounds: int) -> list[tuple[int, str]]:
    """(round, env) in the order they run."""
    return [(r, env) for r in range(1, rounds + 1) for env in order(envs, r)]


def find_tox(spec: str | None) -> list[str]:
    """The tox command: --tox, else tox beside this Python (the venv's), else tox on PATH."""
    if spec:
        words = shlex.split(spec)
        if not words or shutil.which(words[0]) is None:
            raise BadInput(f"--tox {spec!r}: no such command; accepted: a tox executable (path or name on PATH)")
        return words
    beside = Path(sys.executable).parent / "tox"
    if beside.exists() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("tox")
    if found is None:
        raise BadInput("tox is not installed; install the dev extra (pip install -e '.[dev]': tox and tox-uv), "
                       "or give --tox PATH")
    return [found]


def list_envs(tox: list[str]) -> list[str]:
    """The environments tox.ini defines (``tox -l``)."""
    try:
        done = subprocess.run([*tox, "-l"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    except OSError as error:
        raise BadInput(f"{' '.join(tox)} cannot be started ({error.strerror or error})") from None
    except subprocess.TimeoutExpired:
        raise BadInput(f"'{' '.join(tox)} -l' gave no answer within 120 s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        raise BadInput(f"'{' '.join(tox)} -l' failed (exit {done.returncode}): {last}")
    return [line.strip() for line in done.stdout.splitlines() if line.strip() and " " not in line.strip()]


def parse_envs(text: str, known: list[str]) -> list[str]:
    envs = [e.strip() for e in text.split(",") if e.strip()]
    runnable = [e for e in known if e not in NOT_BENCHMARKS]
    accepted = f"accepted: comma-separated, from {', '.join(runnable)}"
    if not envs:
        raise BadInput(f"no tox environment given; {accepted}")
    for env in envs:
        if env in NOT_BENCHMARKS:
            raise BadInput(f"{env!r} runs no benchmarks; {accepted}")
        if env not in known:
            raise BadInput(f"unknown tox environment {env!r}; {accepted}")
    if len(set(envs)) != len(envs):
        raise BadInput(f"an environment is listed twice in {text!r}; list each once ({accepted})")
    return envs


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _saved_runs(folder: Path) -> set[Path]:
    return set(folder.glob("*.json")) if folder.is_dir() else set()


def run_logged(command: list[str], log, title: str) -> int:
    """Run ``command`` in its own process group, output appended to ``log``; Ctrl-C is passed on to
    the whole group (tox and pytest), which then saves nothing, and re-raised here."""
    log.write(f"\n===== {title}: {shlex.join(command)}\n")
    log.flush()
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return process.wait()
    except KeyboardInterrupt:
        with ignoring_interrupts():
            _stop(process)
        raise


class ignoring_interrupts:
    """A second Ctrl-C while the interrupted run winds down is ignored, so the summary is printed."""

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


def _stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def log_tail(log_path: Path, lines: int = 15) -> str:
    text = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def counting_seconds(run_path: Path) -> float | None:
    """How long a run spent counting instructions (its machine_info), or None."""
    try:
        info = json.loads(run_path.read_text(encoding="utf-8")).get("machine_info") or {}
        return float(info["instructions"]["counting_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pins(env: str, tox_ini: Path = ROOT / "tox.ini") -> dict[str, str]:
    """The versions tox.ini pins for ``env``: ``{package: version}`` from the deps lines
    ``FACTORS: package==version`` whose factors (comma-separated) include one of the env's
    (its name split at "-"), and from unconditional ``package==version`` lines."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(tox_ini, encoding="utf-8")
        deps = parser.get("testenv", "deps", fallback="")
    except (OSError, configparser.Error):
        return {}
    factors = set(env.split("-"))
    found = {}
    for line in deps.splitlines():
        condition, _, requirement = line.partition(":") if ":" in line else ("", "", line)
        if condition and not factors & {f.strip() for f in condition.split(",")}:
            continue
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*==\s*(\S+)\s*", requirement)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def pinned_torch(env: str, tox_ini: Path = ROOT / "tox.ini") -> str | None:
    """The torch release tox.ini pins for ``env`` (``torch24: torch==2.4.1`` -> "2.4.1"), or None."""
    return pins(env, tox_ini).get("torch")


def environment_pythons(envs: list[str], tox: list[str]) -> dict[str, Path]:
    """Each environment's Python, where tox keeps it (``tox config -k env_python``), made or not."""
    command = [*tox, "config", "-e", ",".join(envs), "-k", "env_python"]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RunFailed(f"'{shlex.join(command)}' did not answer ({error})") from None
    pythons, section = {}, None
    for line in done.stdout.splitlines():
        line = line.strip()
        if line.startswith("[testenv:") and line.endswith("]"):
            section = line[len("[testenv:"):-1]
        elif section and line.startswith("env_python") and "=" in line:
            pythons[section] = Path(line.split("=", 1)[1].strip())
    missing = [env for env in envs if env not in pythons]
    if done.returncode != 0 or missing:
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        raise RunFailed(f"'{shlex.join(command)}' did not say where {', '.join(missing) or 'the environments'} "
                        f"live (exit {done.returncode}): {last}")
    return pythons


# Read from the installed packages' metadata and import specs, without importing torch (seconds).
READY_CHECK = ("import sys, importlib.metadata as m, importlib.util as u\n"
               "missing = [n for n in ('torch', 'torchvision', 'pytest_benchmark', 'blitzbench') if not u.find_spec(n)]\n"
               "if missing: sys.exit('not installed: ' + ', '.join(missing))\n"
               "print(m.version('torch').split('+')[0]); print(m.version('torchvision').split('+')[0])\n"
               "print(u.find_spec('blitzbench').origin)")


def not_ready(env: str, python: Path) -> str | None:
    """Why tox environment ``env``, whose Python is ``python``, cannot run the suite as it is (None
    when it can): not made, a package missing, another torch or torchvision than tox.ini pins, or
    blitzbench installed from another checkout. Other packages are not compared: tox makes an
    environment whose deps changed when asked (``tox -e ENV --notest``)."""
    if not python.exists():
        return "not created"
    try:
        done = subprocess.run([str(python), "-c", READY_CHECK], cwd="/", capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"its Python does not run ({error})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return last if last.startswith("not installed: ") else f"its Python fails the check: {last}"
    torch, torchvision, location = (done.stdout.strip().splitlines() + ["", "", ""])[:3]
    pinned = pins(env)
    for package, version in (("torch", torch), ("torchvision", torchvision)):
        if package in pinned and version != pinned[package]:
            return f"it has {package} {version}, tox.ini pins {pinned[package]}"
    if not Path(location).resolve().is_relative_to(ROOT):
        return f"its blitzbench is not this checkout's ({location})"
    return None


def make_ready(envs: list[str], tox: list[str], log, log_path: Path, out) -> dict[str, Path]:
    """Each environment that is not ready (:func:`not_ready`) made or updated by ``tox -e ENV
    --notest``; one that is, left as it is (not re-synced). One line each; each one's Python."""
    pythons = environment_pythons(envs, tox)
    for env in envs:
        started = time.perf_counter()
        why = not_ready(env, pythons[env])
        if why is None:
            print(f"ready: {env} (as it is; {duration_text(time.perf_counter() - started)} to check)", file=out,
                  flush=True)
            continue
        log.write(f"\n===== {env}: {why}\n")
        status = run_logged([*tox, "-e", env, "--notest"], log, f"create {env}")
        if status != 0:
            raise RunFailed(f"creating tox environment {env} failed (exit {status}); the log's end:\n"
                            + log_tail(log_path))
        still = not_ready(env, pythons[env])
        if still is not None:
            raise RunFailed(f"tox made environment {env}, and it still cannot run the suite: {still}")
        print(f"ready: {env} (made: {why}; {duration_text(time.perf_counter() - started)})", file=out, flush=True)
    return pythons


def run_matrix(envs: list[str], rounds: int, results_dir: Path, tox: list[str], pytest_args: list[str],
               out=sys.stdout) -> list[Path]:
    """Create the environments, then run the schedule; the saved run files, in order."""
    matrix_id = datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = results_dir.resolve()  # the runs start in the repository root
    results_dir.mkdir(parents=True, exist_ok=True)
    log_path = results_dir / f"matrix-{matrix_id}.log"
    saved: list[Path] = []
    plan = schedule(envs, rounds)
    print(f"{PROG}: {len(envs)} environments x {rounds} rounds = {len(plan)} runs, interleaved "
          f"({' '.join(order(envs, 1))} / {' '.join(order(envs, 2))} / ...); log: {log_path}", file=out, flush=True)
    with open(log_path, "a", encoding="utf-8") as log:
        try:
            make_ready(envs, tox, log, log_path, out)
            began = time.perf_counter()
            for done, (round_number, env) in enumerate(plan, start=1):
                folder = results_dir / env
                before = _saved_runs(folder)
                started = time.perf_counter()
                args = ["--results-dir", str(folder), "--series", env, "--round", str(round_number),
                        "--matrix-id", matrix_id, *pytest_args]
                status = run_logged([*tox, "-e", env, "--skip-pkg-install", "--", *args], log,
                              f"{env} round {round_number}")
                new = sorted(_saved_runs(folder) - before)
                if status != 0 or len(new) != 1:
                    why = f"exit {status}" if status != 0 else f"it saved {len(new)} runs instead of one"
                    raise RunFailed(f"{env} failed in round {round_number} ({why}); the log's end:\n" + log_tail(log_path))
                saved.append(new[0])
                elapsed = time.perf_counter() - began
                left = elapsed / done * (len(plan) - done)
                counting = counting_seconds(new[0]) if "--instructions" in pytest_args else None
                print(f"[{done}/{len(plan)}] round {round_number}/{rounds} {env}: {duration_text(time.perf_counter() - started)}"
                      + (f" (counting instructions {duration_text(counting)})" if counting is not None else "")
                      + f", saved {shown(new[0])}; elapsed {duration_text(elapsed)}, about {duration_text(left)} left",
                      file=out, flush=True)
        except KeyboardInterrupt:
            print(f"\n{PROG}: interrupted; the run in progress saved nothing; {len(saved)} finished runs are kept "
                  f"under {shown(results_dir)}; log: {shown(log_path)}", file=out, flush=True)
            raise
    print(f"{PROG}: {len(saved)} runs saved under {shown(results_dir)}; compare them with: "
          f"blitzbench report {shown(results_dir)} --baseline {envs[0]}", file=out, flush=True)
    return saved


def counts_text(counts: dict[str, int]) -> str:
    labels = {"known bug": "failing by known bugs"}  # strict expected failures (blitzbench.known_bugs)
    return ", ".join(f"{counts[o]} {labels.get(o, o)}" for o in verification.OUTCOMES)


def run_verification(envs: list[str], results_dir: Path, tox: list[str], pytest_args: list[str],
                     out=sys.stdout, harness_tests: bool = False) -> dict:
    """Create the environments, run the verification suite in each, save each one's JUnit XML and
    the release table; the table (blitzbench.analysis.verification.build)."""
    matrix_id = datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = results_dir.resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    log_path = results_dir / f"verify-{matrix_id}.log"
    print(f"{PROG}: the verification suite in {len(envs)} environments ({' '.join(envs)}); log: {shown(log_path)}",
          file=out, flush=True)
    with open(log_path, "a", encoding="utf-8") as log:
        try:
            make_ready(envs, tox, log, log_path, out)
            began = time.perf_counter()
            for done, env in enumerate(envs, start=1):
                folder = results_dir / env
                folder.mkdir(parents=True, exist_ok=True)
                final = folder / verification.RESULT_FILE
                partial = folder / f".{verification.RESULT_FILE}.{matrix_id}.tmp"
                started = time.perf_counter()
                command = [*tox, "exec", "-e", env, "--skip-pkg-install", "--", "python", "-m", "pytest",
                           *verification.SUITE, *([verification.HARNESS_TESTS] if harness_tests else []),
                           *verification.RUN_OPTIONS, f"--junitxml={partial}", *pytest_args]
                status = run_logged(command, log, f"verify {env}")
                # pytest: 0 all passed, 1 some failed (a file that cannot be imported on this release
                # included, as an error); anything else (usage error, interrupted, no tests
                # collected, internal error) means the suite did not run.
                wrote = partial.exists()
                if status not in (0, 1) or not wrote:
                    partial.unlink(missing_ok=True)
                    why = f"exit {status}" + ("" if wrote else ", no JUnit XML written")
                    raise RunFailed(f"the verification suite did not run in {env} ({why}); the log's end:\n"
                                    + log_tail(log_path))
                os.replace(partial, final)
                run = verification.read_run(final, env)
                elapsed = time.perf_counter() - began
                left = elapsed / done * (len(envs) - done)
                print(f"[{done}/{len(envs)}] {env} (torch {run.torch}): {counts_text(run.counts())} in "
                      f"{duration_text(time.perf_counter() - started)}, saved {shown(final)}; elapsed {duration_text(elapsed)}"
                      f", about {duration_text(left)} left", file=out, flush=True)
        except KeyboardInterrupt:
            print(f"\n{PROG}: interrupted; the environment in progress keeps its previous results; log: "
                  f"{shown(log_path)}", file=out, flush=True)
            raise
    table = verification.build(verification.load_runs(results_dir))
    print("\n" + verification.render(table, fmt="simple"), file=out, flush=True)
    md, _ = verification.save(table, results_dir)
    print(f"\nsaved: {shown(md)} and {shown(md.with_suffix('.json'))}", file=out, flush=True)
    return table
