"""pytest plugin for ``--instructions`` (blitzbench.measure.instructions): options, the counting process, and
the counts added to each CPU case's ``extra_info`` before the run is saved.

The timing run times every case as usual; when its test loop is done, it starts one counting
process (pytest again, under valgrind) on the CPU cases it timed, and adds what that process
counted. The counting process is the same pytest with ``--instructions-worker DIR``: each case
builds and checks its workload as in the timing run, then is counted instead of timed.

Its state is the run's :class:`blitzbench.plugin.session.SuiteSession`: ``counting`` in the timing
run, ``counter`` in the counting process; the suite's options it reads there were parsed once, by
blitzbench.plugin.suite (``--instructions-jobs``, its own, is parsed here).
"""

from __future__ import annotations

import argparse

import pytest

from blitzbench import cases, counting_isa, kinds
from blitzbench.measure import callgrind, instructions
from blitzbench.plugin.session import Counting, SuiteSession, benchmark_session, of
from blitzbench.values import whole_number


def pytest_addoption(parser):
    group = parser.getgroup("blitzbench")
    group.addoption("--instructions", action="store_true",
                    help="also count each CPU case's instructions per call with valgrind's Callgrind (one "
                         "intra-op thread; median of 3 repeats), saved beside its time; counts do not drift "
                         "between runs as times do (docs/benchmarks.md, 'Instruction counts')")
    group.addoption("--instructions-jobs", default=None, metavar="N",
                    help="with --instructions: counting processes at once (default: one per CPU, at most 4; "
                         "counts do not depend on the load)")
    group.addoption("--counting-isa", default=None, metavar="ISA",
                    help=f"with --instructions: the instruction sets oneDNN and MKL may use while counted: avx (no "
                         f"FMA, which valgrind runs slowly; the default) or native (what valgrind's CPU selects, "
                         f"FMA kernels included); counts made under different settings are never compared "
                         f"(docs/benchmarks.md, 'Which kernels are counted')")
    group.addoption("--instructions-worker", default=None, metavar="DIR", help=argparse.SUPPRESS)


def bad_input(config, message: str):
    """One line, exit status 2 (the suite's bad-input convention)."""
    pytest.exit(f"blitzbench: {message}", returncode=2)


def pytest_configure(config):  # after blitzbench.plugin.suite's, which makes the session (tryfirst)
    s = of(config)
    worker = config.getoption("--instructions-worker")
    if worker:
        import torch

        torch.set_num_threads(1)  # one intra-op thread (the environment says so too)
        try:
            s.counter = instructions.Counter(worker)
        except (RuntimeError, OSError, ValueError) as error:
            bad_input(config, f"--instructions-worker: {error}")
        return
    jobs_text = config.getoption("--instructions-jobs")
    isa = config.getoption("--counting-isa")
    if not config.getoption("--instructions"):
        for name, value in (("--instructions-jobs", jobs_text), ("--counting-isa", isa)):
            if value is not None:
                bad_input(config, f"{name} goes with --instructions")
        return
    if isa is not None and isa not in counting_isa.SETTINGS:
        bad_input(config, f"--counting-isa {isa!r}: accepted: {', '.join(sorted(counting_isa.SETTINGS))}")
    try:
        jobs = whole_number(jobs_text, least=1) if jobs_text is not None else instructions.default_jobs()
    except ValueError as error:
        bad_input(config, f"--instructions-jobs: {error}")
    reason = callgrind.missing_reason()
    if reason:
        bad_input(config, f"--instructions: {reason}")
    if config.getoption("benchmark_disable", False):
        bad_input(config, "--instructions adds counts to a saved benchmark run, and --benchmark-disable saves none; "
                          "use it with pytest bench --benchmark-only")
    if "cpu" not in s.devices or not set(s.modes) & set(instructions.COUNTED_MODES):
        bad_input(config, f"--instructions counts CPU cases, and --device {','.join(s.devices)} "
                          f"--modes {','.join(s.modes)} selects none; accepted: --device including cpu, --modes "
                          f"including {' or '.join(instructions.COUNTED_MODES)}")
    s.counting = Counting(jobs, isa or counting_isa.DEFAULT)


@pytest.fixture
def instruction_counter(request):
    """In the counting process: the Counter a benchmark case counts its calls with; else None."""
    return of(request.config).counter


def _selected_case(item) -> cases.Case | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("bench_case") if callspec else None
    if not isinstance(case, cases.Case) or case.device != "cpu" or case.mode not in instructions.COUNTED_MODES:
        return None
    if any(mark.name == "skip" for mark in item.iter_markers()):
        return None
    return case


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    plan = of(config).counting  # None: no --instructions, or the counting process itself
    if plan is None:
        return
    for item in items:
        case = _selected_case(item)
        if case is not None:
            plan.nodeids[case] = item.nodeid
    if not plan.nodeids:
        bad_input(config, "--instructions counts CPU benchmark cases (bench/test_throughput.py), and this selection "
                          "has none; select some, such as: pytest bench --benchmark-only --quick --device cpu --instructions")


def _grid_options(s: SuiteSession, counted: list[cases.Case]) -> list[str]:
    """The options that make the counting process generate the same CPU cases."""
    return cases.pytest_options(counted) + (["--quick"] if s.quick else [])


def _plugins(config) -> list[str]:
    """The ``-p`` plugins this run was started with, for the counting process too."""
    args, out = list(config.invocation_params.args), []
    for i, arg in enumerate(args):
        if arg == "-p" and i + 1 < len(args):
            out += ["-p", args[i + 1]]
        elif arg.startswith("-p") and len(arg) > 2:
            out.append(arg)
    return out


def _timed_cpu_benchmarks(config) -> dict[cases.Case, object]:
    """The CPU throughput cases this run timed, each with pytest-benchmark's record of it."""
    bench_session = benchmark_session(config)
    if bench_session is None:
        return {}
    timed = {}
    for b in bench_session.benchmarks:
        case = kinds.case_of(b.extra_info) if b and not b.has_error else None
        if isinstance(case, cases.Case) and case.device == "cpu":
            timed[case] = b
    return timed


def _median(bench) -> float | None:
    """A timed case's median seconds per call (pytest-benchmark's Metadata.stats)."""
    return getattr(getattr(bench, "stats", None), "median", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    yield
    config = session.config
    s = of(config)
    plan = s.counting
    if plan is None or session.shouldstop:
        return
    timed = _timed_cpu_benchmarks(config)
    counted = [case for case in plan.nodeids if case in timed]
    if not counted:
        return
    tr = config.pluginmanager.get_plugin("terminalreporter")
    write = (lambda line: tr.write_line(f"blitzbench: {line}")) if tr else print
    jobs = min(plan.jobs, len(counted))
    write(f"counting instructions of {len(counted)} CPU case{'s' * (len(counted) != 1)} in {jobs} valgrind "
          f"process{'es' * (jobs != 1)} at once ({callgrind.valgrind_version()}, one thread each, "
          f"--counting-isa {plan.isa}) ...")
    calls = {c: instructions.calls_per_repeat(_median(timed[c])) for c in counted}
    weights = {c: _median(timed[c]) or 1.0 for c in counted}
    result = instructions.run_counting(counted, plan.nodeids, lambda group: _grid_options(s, group), _plugins(config),
                                       config.rootpath, write, calls, weights, jobs, plan.isa)
    plan.result = result
    for case in counted:
        bench = timed[case]
        if case in result.counts:
            bench.extra_info.update(result.counts[case].extra_info())
        else:
            bench.extra_info["instructions_missing"] = result.missing.get(case, "not counted")
    write(f"counted {len(result.counts)} of {len(counted)} cases in {result.seconds:.0f} s")
    if result.missing:
        write("instructions missing for " + ", ".join(case.id for case in sorted(result.missing))
              + "; the counting process's last lines:\n"
              + result.log_tail)
        session.testsfailed += 1  # the run asked for counts it did not get: it fails


def pytest_benchmark_update_machine_info(config, machine_info):
    plan = of(config).counting
    if plan is None or plan.result is None:
        return
    result = plan.result
    machine_info["instructions"] = {
        "valgrind": result.valgrind, "tool": "callgrind (Ir: instructions executed)",
        "seen_under_valgrind": result.features,
        "note": "valgrind hides AVX-512, so kernels take their AVX2 paths while counted",
        "counting_isa": result.isa,
        "counting_isa_environment": counting_isa.SETTINGS[result.isa],
        "repeats": instructions.REPEATS,
        "calls_per_repeat": f"1 to {instructions.MAX_CALLS_PER_REPEAT}, about {instructions.BLOCK_SECONDS * 1000:g} ms "
                            "of the case's timed calls (instructions_calls_per_repeat per case)",
        "counting_seconds": round(result.seconds, 1), "counting_processes": result.jobs,
        "times_compared": False,
        "times_note": "this run counted instructions: its times compare with no other run's "
                      "(blitzbench report compares its counts only)",
    }
