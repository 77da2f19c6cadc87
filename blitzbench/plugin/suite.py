"""The pytest plugin: the suite's command-line options, case parametrization, fixtures, machine
info, the saved run and the end-of-run table (loaded by the root conftest.py).

Options: see ``pytest --help``, section "blitzbench", or docs/options.md. The run's state is one
:class:`blitzbench.plugin.session.SuiteSession`. Cases that take the
fixtures ``model_name``, ``device`` and ``batch_size`` are parametrized over them here, in that
order, so their ids read like ``chapter_net-cpu-bs4``; benchmark cases take ``bench_case``, one
point of the grid model x device x batch size x phase (x dtype, memory format, compile mode).
"""

from __future__ import annotations

import builtins
import itertools
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
import torch

from blitzbench import cases, known_bugs, store
from blitzbench.analysis import summary_table
from blitzbench.measure import devices, instructions, machine, timing
from blitzbench.plugin import options
from blitzbench.plugin.session import KEY, SuiteSession, benchmark_session, of
from reference_models import MODELS

PHASE_CHOICES = cases.PHASES


def pytest_addoption(parser):
    group = parser.getgroup("blitzbench", "blitzbench: PyTorch fundamentals verification and benchmarks")
    add = group.addoption
    add("--device", default=",".join(options.KNOWN_DEVICES), metavar="LIST",
        help="comma-separated devices to run on, from: cpu, cuda (default: cpu,cuda; "
             "CUDA cases are skipped with the reason where CUDA is unavailable)")
    add("--batch-sizes", default=None, metavar="LIST",
        help="comma-separated positive batch sizes (default: "
             + ",".join(map(str, options.BENCHMARK_BATCH_SIZES)) + " for benchmarks, adding "
             + ",".join(map(str, options.CUDA_EXTRA_BATCH_SIZES)) + " on CUDA; "
             + ",".join(map(str, options.VERIFICATION_BATCH_SIZES)) + " for verification)")
    add("--models", default=",".join(MODELS), metavar="LIST",
        help=f"comma-separated models, from: {', '.join(MODELS)} (default: all)")
    add("--phases", default=",".join(PHASE_CHOICES), metavar="LIST",
        help=f"comma-separated benchmark phases, from: {', '.join(PHASE_CHOICES)} (default: all)")
    add("--dtypes", default=cases.DEFAULTS["dtype"], metavar="LIST",
        help=f"comma-separated benchmark dtypes, from: {', '.join(cases.DTYPES)} "
             f"(default: {cases.DEFAULTS['dtype']}; bfloat16 and float16 are autocast, on CUDA only)")
    add("--memory-formats", default=cases.DEFAULTS["memory_format"], metavar="LIST",
        help=f"comma-separated benchmark memory formats, from: {', '.join(cases.MEMORY_FORMATS)} "
             f"(default: {cases.DEFAULTS['memory_format']})")
    add("--modes", "--compile-modes", dest="modes", default=cases.DEFAULTS["mode"], metavar="LIST",
        help=f"comma-separated execution modes, from: {', '.join(cases.MODES)} (default: {cases.DEFAULTS['mode']}; "
             "compiled: torch.compile; reduce-overhead: torch.compile with CUDA graphs; cudagraph: the "
             "phase captured once as a CUDA graph and replayed; the last two on CUDA only). "
             "--compile-modes is accepted too")
    add("--quick", action="store_true",
        help="benchmark every model and phase at batch sizes "
             + ",".join(map(str, options.QUICK_BATCH_SIZES)) + " only, with shorter timing")
    add("--profile", action="store_true",
        help="after timing each benchmark case, profile its training step with torch.profiler and write "
             "a TensorBoard / Perfetto trace under <results-dir>/traces/<run>/<case id>/")
    add("--profile-shapes", action="store_true", help="with --profile: record input shapes")
    add("--profile-stack", action="store_true", help="with --profile: record Python stacks")
    add("--profile-memory", action="store_true", help="with --profile: record memory allocations")
    add("--data-root", default=None, metavar="DIR",
        help="folder holding torchvision datasets (mnist, fashion_mnist, cifar10) in their own layout; "
             "default: $BLITZBENCH_DATA_ROOT. Cases that need them are skipped with the reason when absent")
    add("--series", default=None, metavar="NAME",
        help="record the run as part of series NAME (blitzbench matrix passes its tox env here)")
    add("--round", default=None, metavar="N",
        help="with --series: record the run as round N of that series (set by blitzbench matrix)")
    add("--matrix-id", default=None, metavar="ID",
        help="with --series: the matrix run this round belongs to (set by blitzbench matrix)")
    add("--skip-details", action="store_true",
        help="list skipped cases file by file (pytest -rs); by default each skip reason is shown once, with a count")
    add("--results-dir", default="results", metavar="DIR",
        help="where each benchmark run is saved as pytest-benchmark JSON, with its table as "
             "Markdown (default: results)")


@pytest.hookimpl(tryfirst=True)  # the session first: every other part of the suite reads it
def pytest_configure(config):
    try:
        session = SuiteSession.from_options(config.getoption)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[KEY] = session
    if config.getoption("--skip-details") and "s" not in config.option.reportchars:
        config.option.reportchars += "s"


def trace_dir(session: SuiteSession) -> Path:
    """Traces of this run: <results-dir>/traces/<run>/ (run: start time and torch version)."""
    return session.results_dir / "traces" / store.run_stem(session.started, torch.__version__, []).rsplit("_", 1)[0]


def device_param(device: str):
    """``device`` as a pytest parameter, skipped with the exact reason where it cannot run."""
    marks = [pytest.mark.cuda] if device == "cuda" else []
    reason = devices.unavailable_reason(device)
    if reason:
        marks.append(pytest.mark.skip(reason=reason))
    return pytest.param(device, marks=marks, id=device)


def benchmark_batch_sizes(config, device: str) -> tuple[int, ...]:
    """--batch-sizes when given, else the device's defaults (CUDA adds batches that fill the GPU)."""
    if of(config).batch_sizes:
        return of(config).batch_sizes
    return options.default_benchmark_batch_sizes(device, of(config).quick)


def bench_case_params(config):
    s = of(config)
    quick = s.quick
    grid = ((model, device, batch_size, *rest)
            for model in s.models for device in s.devices
            for batch_size in benchmark_batch_sizes(config, device)
            for rest in itertools.product(s.phases, s.dtypes, s.memory_formats, s.modes))
    for model, device, batch_size, phase, dtype, memory_format, mode in grid:
        case = cases.Case(model, device, batch_size, phase, dtype, memory_format, mode)
        if case not in s.timers:  # the case's timer, chosen once: its mark's clock, and the case_timer fixture
            s.timers[case] = timing.case_timer(device, phase)
        marks = [pytest.mark.benchmark(**timing.benchmark_options(s.timers[case], f"{model} {phase}", quick))]
        if device == "cuda":
            marks.append(pytest.mark.cuda)
        reason = devices.unavailable_reason(device) or case.unsupported_reason()
        if reason:
            marks.append(pytest.mark.skip(reason=reason))
        yield pytest.param(case, marks=marks, id=case.id)


def pytest_generate_tests(metafunc):
    config = metafunc.config
    s = of(config)
    if "bench_case" in metafunc.fixturenames:
        metafunc.parametrize("bench_case", list(bench_case_params(config)))
    if "model_name" in metafunc.fixturenames:
        metafunc.parametrize("model_name", list(s.models))
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", [device_param(d) for d in s.devices])
    if "accelerator" in metafunc.fixturenames:
        # Cases that compare an accelerator with the CPU.
        accelerators = [d for d in s.devices if d != "cpu"]
        params = [device_param(d) for d in accelerators] or [
            pytest.param("cuda", id="cuda", marks=pytest.mark.skip(reason="--device selects no accelerator (only cpu)"))]
        metafunc.parametrize("accelerator", params)
    if "batch_size" in metafunc.fixturenames:
        sizes = s.batch_sizes or options.VERIFICATION_BATCH_SIZES
        metafunc.parametrize("batch_size", sizes, ids=[f"bs{n}" for n in sizes])


def installed_versions() -> dict[str, str]:
    """The versions the known-bug registry is read against: torch, and torchvision where it imports."""
    versions = {"torch": torch.__version__}
    try:
        import torchvision
        versions["torchvision"] = torchvision.__version__
    except Exception:  # absent or broken beside this torch: no torchvision bug can apply
        pass
    return versions


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """A check that a known bug of this release breaks (blitzbench.known_bugs) becomes a strict
    expected failure: it still runs; passing where the registry says it fails fails the run."""
    versions = None
    for item in items:
        if not item.nodeid.startswith("bench/"):
            continue
        versions = versions or installed_versions()
        bug = known_bugs.expected_failure(item.nodeid, versions)
        if bug is not None:
            item.add_marker(pytest.mark.xfail(reason=known_bugs.reason(bug), strict=True,
                                              raises=getattr(builtins, bug.raises)))


@pytest.fixture(autouse=True)
def _ieee_float32_for_verification(request):
    """Verification compares float32 with references: TF32 off. Benchmarks keep torch's defaults."""
    if "benchmark" in request.fixturenames:
        yield
        return
    with devices.ieee_float32():
        yield


@pytest.fixture(scope="session", autouse=True)
def _release_in_junit_xml(request, record_testsuite_property):
    """With --junitxml: the release this run verified, as the XML's testsuite properties
    (blitzbench.analysis.verification's table reads them). Nothing is recorded without --junitxml."""
    if request.config.getoption("xmlpath", None):
        for name, value in machine.release_properties().items():
            record_testsuite_property(name, value)


@pytest.fixture
def matmul_peak(request):
    """peak(device, math): the device's measured matmul peak in that math (blitzbench.measure.peak), measured
    once per session (lazily)."""
    from blitzbench.measure.peak import measure_matmul_peak, peak_key

    peaks = of(request.config).peaks

    def peak(device: str, math: str = "float32") -> dict:
        key = peak_key(device, math)
        if key not in peaks:
            peaks[key] = measure_matmul_peak(device, math)
        return peaks[key]

    return peak


@pytest.fixture
def case_timer(request, bench_case) -> timing.CaseTimer:
    """The timer ``bench_case`` is timed with (blitzbench.measure.timing.case_timer): the clock its
    benchmark mark gave pytest-benchmark, and the name saved beside its time."""
    return of(request.config).timers[bench_case]


@pytest.fixture
def quick(request) -> bool:
    return of(request.config).quick


@pytest.fixture
def profiler(request):
    """profile(case): trace the case's training step if --profile was given (None otherwise)."""
    config = request.config
    if not config.getoption("--profile"):
        return lambda case: None
    from blitzbench.measure import profiling

    def run(case):
        result = profiling.profile_case(case, trace_dir(of(config)) / case.id,
                                        shapes=config.getoption("--profile-shapes"),
                                        stack=config.getoption("--profile-stack"),
                                        memory=config.getoption("--profile-memory"))
        of(config).profiles.append(result)
        return result

    return run


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info.update(machine.describe(peaks=of(config).peaks))
    store.stamp({"machine_info": machine_info})  # also in what pytest-benchmark saves itself (--benchmark-json)
    if of(config).matrix_record:
        machine_info["blitzbench_matrix"] = of(config).matrix_record  # read by blitzbench.analysis.saved_runs


def _report_skips(tr, config) -> None:
    """One line per skip reason, with its count (pytest's -rs lists them file by file)."""
    if "s" in config.option.reportchars:
        return
    skips = Counter(str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
                    .removeprefix("Skipped: ") for report in tr.stats.get("skipped", []))
    if not skips:
        return
    cases, reasons = sum(skips.values()), len(skips)
    tr.section(f"skipped: {cases} case{'s' * (cases != 1)}, {reasons} reason{'s' * (reasons != 1)} "
               "(--skip-details lists them by file)", sep="-")
    for reason, count in sorted(skips.items(), key=lambda item: (-item[1], item[0])):
        tr.write_line(f"{count:5d}  {reason}")


def pytest_unconfigure(config):
    """The run's results table and where it was saved, after pytest's own summary line."""
    lines = of(config).final_lines if KEY in config.stash else None
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if lines and tr is not None:
        tr.section("blitzbench results")
        for line in lines:
            tr.write_line(line)


def _ran_benchmarks(config) -> list:
    session = benchmark_session(config)
    if session is None or session.disabled:
        return []
    return [b for b in session.benchmarks if b and not b.has_error]


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own tables
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The profiles' and skips' summaries; the results table is printed last (unconfigure)."""
    _report_profiles(terminalreporter, config)
    _report_skips(terminalreporter, config)


@pytest.hookimpl(trylast=True)  # after pytest-benchmark has finished its statistics
def pytest_sessionfinish(session, exitstatus):
    """Save the run (pytest-benchmark JSON), its table as Markdown, and the counts' profiles."""
    config = session.config
    s = of(config)
    benchmarks = _ran_benchmarks(config)
    if not benchmarks:
        return  # a run that benchmarked nothing saves nothing
    if exitstatus == pytest.ExitCode.INTERRUPTED:  # Ctrl-C: a partial run would read as a whole one
        s.final_lines = ["blitzbench: interrupted, so this run is not saved; earlier runs are untouched"]
        return
    bench_session = benchmark_session(config)
    output = config.hook.pytest_benchmark_generate_json(
        config=config, benchmarks=benchmarks, include_data=True, machine_info=bench_session.get_machine_info(),
        commit_info=config.hook.pytest_benchmark_generate_commit_info(config=config))
    ran_devices = [d for d in s.devices if any(b.extra_info.get("device") == d for b in benchmarks)]
    stem = store.run_stem(s.started, torch.__version__, ran_devices)
    json_path = store.save_run(store.stamp(output), s.results_dir, stem)
    profiles_path = instructions.save_profiles_beside(json_path, s.counting.result if s.counting else None)
    not_run = {d: devices.unavailable_reason(d) for d in s.devices if d not in ran_devices}
    not_run = {d: r or "no case ran there" for d, r in not_run.items()}
    counted = any("instructions_per_call" in (b.get("extra_info") or {}) for b in output["benchmarks"])
    legend = summary_table.legend(s.peaks, not_run, counted, output["benchmarks"])
    terminal = summary_table.all_tables(output["benchmarks"], list(s.devices))
    markdown = summary_table.all_tables(output["benchmarks"], list(s.devices), fmt="github")
    md_path = store.write_atomic(Path(s.results_dir) / f"{stem}.md",
                                         _markdown_page(output, stem, markdown, legend, s.started_utc))
    s.final_lines = ([f"{title}\n{table}\n" for title, table in terminal]
                     + [legend, f"saved: {json_path}", f"table: {md_path}"]
                     + ([f"callgrind profiles: {profiles_path} (blitzbench report A B --explain CASE)"]
                        if profiles_path else []))


def _report_profiles(tr, config) -> None:
    if not of(config).profiles:
        return
    tr.section("blitzbench profiles: three costliest operators per case (self time)")
    for p in of(config).profiles:
        top = ", ".join(f"{name} {us / 1000:.2f} ms" for name, us in p.top_operators)
        tr.write_line(f"{p.case_id}: {top}")
    traces = trace_dir(of(config))
    tr.write_line(f"traces: {traces} (tensorboard --logdir {traces}; "
                  "or open a .pt.trace.json.gz in https://ui.perfetto.dev); tables: key_averages.txt beside each")


def _markdown_page(output: dict, stem: str, tables: list[tuple[str, str]], legend: str, started: datetime) -> str:
    info = output["machine_info"]
    lines = [
        f"# Benchmark run {stem}",
        "",
        f"torch {info.get('torch_version')}, torchvision {info.get('torchvision_version')}, "
        f"CPU: {info.get('cpu_model')} ({info.get('torch_threads')} threads)"
        + (f", GPU: {info.get('gpu_name')} (CUDA {info.get('cuda_version')}, cuDNN {info.get('cudnn_version')})"
           if info.get("gpu_name") else ", no GPU")
        + f"; run started {started.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%S} UTC, "
        f"ended {output.get('datetime', '')[:19]} UTC.",
        "",
    ]
    for title, table in tables:
        lines += [f"## {title}", "", table, ""]
    lines += [f"{line}  " for line in legend.splitlines()]
    return "\n".join(lines) + "\n"
