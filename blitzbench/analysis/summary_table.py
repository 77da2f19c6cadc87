"""The end-of-run table: each case's throughput on every device side by side.

Rows: model / phase / batch size / execution mode (and dtype or memory format when not the
default). Columns per device: samples/s, GFLOP/s, % of the measured peak, and noise (IQR /
median of the timed rounds, marked "noisy" above 10%); on CUDA also the GPU's busy fraction
(kernel time over wall time, "launch-bound" below 50%); then CUDA ÷ CPU: each CUDA row against
the CPU's eager float32 case of the same model, phase and batch. Below the table, one line per
model names the fastest CUDA mode of its train_step at each batch size and its speed-up over
eager. A device that did not run a case shows "not run", never zero. Reads runs in the current
schema (pytest-benchmark JSON dicts: a run being saved, or a saved one read through
blitzbench.store.upgrade); every figure it shows is the one the benchmark saved. Prints nothing
itself.
"""

from __future__ import annotations

import dataclasses

from tabulate import tabulate

from blitzbench.cases import DEFAULTS, MODES, Case, model_rank
from blitzbench.figures import LAUNCH_BOUND_BELOW, NOISY_ABOVE, rate_text
from blitzbench.kinds import DataLoadingCase, DistributedCase, TimeToAccuracyCase, case_of

NOT_RUN = "not run"


def gflops_missing_reason(info: dict) -> str | None:
    """Why a throughput case has no GFLOP/s (None when it has one): the reason recorded with the
    run (``flops_missing``; blitzbench.store.upgrade records the known one for older runs)."""
    if info.get("gflops_per_s") is not None or info.get("samples_per_s") is None:
        return None
    return info.get("flops_missing")


def _fmt_percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2g}%" if value < 0.1 else f"{100 * value:.0f}%"


def _cases(benchmarks: list[dict], kind: type) -> list[tuple]:
    """(case, record) for each saved record of one kind of case."""
    found = []
    for bench in benchmarks:
        case = case_of(bench.get("extra_info") or {})
        if isinstance(case, kind):
            found.append((case, bench))
    return found


def math_label(math: dict | None) -> str:
    """blitzbench.measure.peak.case_math's record in a few words: float32, tf32 conv, tf32 conv+matmul,
    bfloat16 autocast; n/a for runs saved before the math was recorded."""
    if not math:
        return "n/a"
    if math.get("autocast"):
        return f"{math['autocast']} autocast"
    tf32 = [part for part, on in (("conv", math.get("conv_tf32")), ("matmul", math.get("matmul_tf32"))) if on]
    return "tf32 " + "+".join(tf32) if tf32 else "float32"


def _noise_cell(bench: dict) -> str:
    n = bench["extra_info"].get("noise_iqr_over_median")
    return "n/a" if n is None else f"{100 * n:.0f}%" + (" noisy" if n > NOISY_ABOVE else "")


def instructions_cell(info: dict) -> str:
    """Callgrind's instructions per call with the spread of its repeats, or why it is missing."""
    if "instructions_per_call" in info:
        return f"{info['instructions_per_call']:,.0f} ({100 * info.get('instructions_spread', 0):.2f}%)"
    return f"missing: {info['instructions_missing']}" if "instructions_missing" in info else "n/a"


def _busy_cell(info: dict) -> str:
    busy = info.get("device_busy_fraction")
    return "n/a" if busy is None else f"{100 * busy:.0f}%" + (" launch-bound" if busy < LAUNCH_BOUND_BELOW else "")


def _throughput_rows(benchmarks: list[dict]) -> dict[Case, dict[str, dict]]:
    """Saved throughput cases by row (the case without its device), then by device."""
    cases: dict[Case, dict[str, dict]] = {}
    for case, bench in _cases(benchmarks, Case):
        cases.setdefault(dataclasses.replace(case, device=""), {})[case.device] = bench
    return cases


def _rate(bench: dict | None) -> float | None:
    return (bench or {}).get("extra_info", {}).get("samples_per_s")


def _cpu_eager(cases: dict[Case, dict[str, dict]], row: Case) -> dict | None:
    """The CPU's eager float32 contiguous case at ``row``'s model, phase and batch size."""
    base = dataclasses.replace(row, **DEFAULTS)
    return cases.get(base, {}).get("cpu")


def throughput_table(benchmarks: list[dict], devices: list[str], fmt: str = "simple") -> str:
    """Render the table for ``benchmarks`` (a run's "benchmarks" list), devices in ``devices`` order."""
    cases = _throughput_rows(benchmarks)
    if not cases:
        return ""
    axes = [axis for axis in DEFAULTS if axis != "mode"]
    show_variant = any(getattr(row, axis) != DEFAULTS[axis] for row in cases for axis in axes)
    both = "cpu" in devices and "cuda" in devices
    show_math = {device: any(math_label(by_device[device]["extra_info"].get("math")) not in ("float32", "n/a")
                             for by_device in cases.values() if device in by_device) for device in devices}
    headers = ["model", "phase", "batch", "mode"] + (["variant"] if show_variant else [])
    counted = any("instructions_per_call" in b["extra_info"] or "instructions_missing" in b["extra_info"]
                  for by_device in cases.values() for b in by_device.values())
    for device in devices:
        headers += [f"{device} samples/s", f"{device} GFLOP/s", f"{device} % peak", f"{device} noise"]
        if counted and device == "cpu":
            headers.append("cpu instructions/call (spread)")
        if show_math[device]:
            headers.append(f"{device} math")
        if device == "cuda":
            headers.append("cuda busy")
    if both:
        headers.append("cuda ÷ cpu eager")
    rows = []
    for key in sorted(cases):  # rows: a case without its device
        by_device = cases[key]
        variant = "-".join(getattr(key, a) for a in axes if getattr(key, a) != DEFAULTS[a])
        row = [key.model, key.phase, key.batch_size, key.mode] + ([variant or "-"] if show_variant else [])
        for device in devices:
            bench = by_device.get(device)
            if bench is None:
                row += [NOT_RUN, "", "", ""] + [""] * (show_math[device] + (device == "cuda")
                                                       + (counted and device == "cpu"))
                continue
            info = bench["extra_info"]
            row += [rate_text(info.get("samples_per_s")), rate_text(info.get("gflops_per_s")),
                    _fmt_percent(info.get("peak_fraction")), _noise_cell(bench)]
            if counted and device == "cpu":
                row.append(instructions_cell(info))
            if show_math[device]:
                row.append(math_label(info.get("math")))
            if device == "cuda":
                row.append(_busy_cell(info))
        if both:
            cpu, cuda = _rate(_cpu_eager(cases, key)), _rate(by_device.get("cuda"))
            row.append(f"{cuda / cpu:.3g}x" if cpu and cuda else "n/a")
        rows.append(row)
    table = tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True,
                     colalign=("left", "left", "right") + ("left",) * (len(headers) - 3))
    lines = fastest_mode_lines(cases)
    return table + ("\n\n" + "\n".join(lines) if lines else "")


def fastest_mode_lines(cases: dict[Case, dict[str, dict]]) -> list[str]:
    """Per model: the fastest CUDA mode of train_step at each batch size (and dtype / memory
    format), with its speed-up over eager there; only where CUDA ran more than one mode."""
    groups: dict[str, dict[tuple, dict[str, float]]] = {}
    for row, by_device in cases.items():
        rate = _rate(by_device.get("cuda"))
        if row.phase == "train_step" and rate:
            group = (row.batch_size, row.dtype, row.memory_format)
            groups.setdefault(row.model, {}).setdefault(group, {})[row.mode] = rate
    lines = []
    for model in sorted(groups, key=model_rank):
        parts = []
        for (batch, dtype, memory_format), rates in sorted(groups[model].items()):
            if len(rates) < 2:
                continue
            best = max(rates, key=lambda mode: (rates[mode], -MODES.index(mode) if mode in MODES else 0))
            variant = "".join(f" {v}" for v, d in ((dtype, DEFAULTS["dtype"]),
                                                    (memory_format, DEFAULTS["memory_format"])) if v != d)
            eager = rates.get("eager")
            speedup = f"{rates[best] / eager:.2f}x eager" if eager else "eager not run"
            parts.append(f"bs{batch}{variant} {best} ({rate_text(rates[best])}/s, {speedup})")
        if parts:
            lines.append(f"{model} train_step on cuda, fastest mode: " + "; ".join(parts))
    return lines


def legend(peaks: dict[str, dict], not_run: dict[str, str], counted: bool = False,
           benchmarks: list[dict] = ()) -> str:
    lines = [
        "samples/s = batch size / median time. noise = IQR / median of the timed rounds; "
        f"'noisy' above {NOISY_ABOVE:.0%}.",
        "GFLOP/s counts convolutions and matrix products (FlopCounterMode); n/a where there is no count "
        "(reasons below). % peak is over the measured matmul peak of the fastest math the case uses "
        "(float32; tf32 where TF32 convolutions or matmuls are on; the autocast dtype): "
        + (", ".join(f"{_peak_name(d, p)} {p['gflops_per_s']:,.0f} GFLOP/s (n={p['n']})" for d, p in peaks.items())
           or "not measured"),
    ]
    if any(key.split()[0] == "cuda" for key in peaks):
        lines.append("cuda busy = GPU kernel time / wall time over a profiled window of the same calls; "
                     f"'launch-bound' below {LAUNCH_BOUND_BELOW:.0%}. cuda ÷ cpu eager: each CUDA row over "
                     "the CPU's eager float32 case of the same model, phase and batch.")
    if counted:
        lines.append("cpu instructions/call: Callgrind's count of one call (median of its repeats, one thread, under "
                     "valgrind, which hides AVX-512); spread = (max - min) / median of the repeats. Counts do not drift "
                     "between runs as times do; they are not time (blitzbench report compares them).")
    missing: dict[str, list[str]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info") or {}
        reason = gflops_missing_reason(info)
        if reason:
            missing.setdefault(reason, []).append(info.get("phase", "?"))
    lines += [f"GFLOP/s n/a ({len(phases)} case{'s' * (len(phases) != 1)}: {', '.join(sorted(set(phases)))}): {reason}"
              for reason, phases in missing.items()]
    lines += [f"{device}: not run: {reason}" for device, reason in not_run.items()]
    return "\n".join(lines)


TIME_TO_ACCURACY_COLUMNS = (("tutorial", "eager", "tutorial loop"), ("fast", "eager", "fast loop"),
                            ("fast", "cudagraph", "fast loop, cudagraph"))


def _peak_name(key: str, peak: dict) -> str:
    """A peak's key with its math spelled out (float32 peaks are keyed by the device alone)."""
    return key if " " in key else f"{key} {peak.get('math', 'float32')}"


def _time_to_accuracy_cell(info: dict) -> str:
    """Median seconds over the seeds, with their range: "1.21 s [1.10-1.40] (3 seeds, 3 ep, batch 64)"."""
    seconds = info.get("seconds_per_seed") or [info["seconds_to_accuracy"]]
    spread = f" [{min(seconds):.2f}-{max(seconds):.2f}]" if len(seconds) > 1 else ""
    seeds = f"{len(seconds)} seed{'s' * (len(seconds) != 1)}, "
    return f"{info['seconds_to_accuracy']:.2f} s{spread} ({seeds}{info['epochs']:g} ep, batch {info['batch_size']})"


def time_to_accuracy_table(benchmarks: list[dict], fmt: str = "simple") -> str:
    """Tutorial loop beside fast loop (eager, and cudagraph where it ran): training seconds to the
    target (the median over seeds, with their range; and epochs), and the ratios tutorial ÷ fast
    and fast ÷ fast cudagraph of the medians."""
    runs: dict[tuple, dict[tuple, dict]] = {}
    for case, bench in _cases(benchmarks, TimeToAccuracyCase):
        key = (case.dataset, case.model, case.device, case.target)
        runs.setdefault(key, {})[(case.loop, case.mode)] = bench["extra_info"]
    show_graph = any(("fast", "cudagraph") in loops for loops in runs.values())
    columns = [c for c in TIME_TO_ACCURACY_COLUMNS if show_graph or c[1] == "eager"]

    def ratio(a: dict | None, b: dict | None) -> str:
        return f"{a['seconds_to_accuracy'] / b['seconds_to_accuracy']:.2f}x" if a and b else "n/a"

    rows = []
    for (dataset, model, device, target), loops in sorted(runs.items()):
        cells = []
        for loop, mode, _ in columns:
            info = loops.get((loop, mode))
            cells.append(NOT_RUN if info is None else _time_to_accuracy_cell(info))
        fast = loops.get(("fast", "eager"))
        cells.append(ratio(loops.get(("tutorial", "eager")), fast))
        if show_graph:
            cells.append(ratio(fast, loops.get(("fast", "cudagraph"))))
        rows.append([dataset, model, device, f"{target:.0%}", *cells])
    if not rows:
        return ""
    headers = (["dataset", "model", "device", "target"] + [title for _, _, title in columns] + ["tutorial ÷ fast"]
               + (["fast ÷ fast cudagraph"] if show_graph else []))
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def data_loading_table(benchmarks: list[dict], devices: list[str], fmt: str = "simple") -> str:
    """Images per second through each data source, with and without augmentation, per device."""
    cells: dict[DataLoadingCase, dict[str, dict]] = {}
    for case, bench in _cases(benchmarks, DataLoadingCase):
        cells.setdefault(dataclasses.replace(case, device=""), {})[case.device] = bench
    rows = []
    for key in sorted(cells):  # rows: a case without its device
        row = [key.dataset, key.source, "augmented" if key.augment else "plain"]
        for device in devices:
            bench = cells[key].get(device)
            if bench is None:
                row += [NOT_RUN, ""]
                continue
            row += [rate_text(bench["extra_info"].get("images_per_s")), _noise_cell(bench)]
        rows.append(row)
    if not rows:
        return ""
    headers = ["dataset", "source", "augmentation"]
    for device in devices:
        headers += [f"{device} images/s", f"{device} noise"]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def distributed_table(benchmarks: list[dict], fmt: str = "simple") -> str:
    """The distributed training step per backend and world size, with its scaling efficiency."""
    rows = []
    for case, bench in _cases(benchmarks, DistributedCase):
        info = bench["extra_info"]
        efficiency = info.get("scaling_efficiency")
        rows.append(((case.backend, case.model, case.world_size), [
            info["backend"], info["model"], info["world_size"], info["global_batch_size"],
            rate_text(info.get("samples_per_s")), rate_text(info.get("single_process_samples_per_s")),
            "n/a" if efficiency is None else f"{efficiency:.2f}",
            f"{info['grad_max_rel_err']:.1e} / {info['param_max_rel_err']:.1e}",
            _noise_cell(bench)]))
    if not rows:
        return ""
    return tabulate([row for _, row in sorted(rows, key=lambda r: r[0])],
                    headers=["backend", "model", "ranks", "global batch", "samples/s", "1 process samples/s",
                             "scaling efficiency", "grad / param rel. error", "noise"],
                    tablefmt=fmt, disable_numparse=True)


def all_tables(benchmarks: list[dict], devices: list[str], fmt: str = "simple") -> list[tuple[str, str]]:
    """(title, table) for every kind of case the run holds, in reading order."""
    tables = [("Throughput: samples/s per device", throughput_table(benchmarks, devices, fmt)),
              ("Time to accuracy", time_to_accuracy_table(benchmarks, fmt)),
              ("Data loading", data_loading_table(benchmarks, devices, fmt)),
              ("Distributed training step", distributed_table(benchmarks, fmt))]
    return [(title, table) for title, table in tables if table]
