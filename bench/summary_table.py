"""The end-of-run table: each case's throughput on every device side by side.

Rows: model / phase / batch size (and the non-default axes, if any). Columns per device:
samples/s, GFLOP/s, % of the measured peak, and noise (IQR / median of the timed rounds,
marked "noisy" above 10%); then CUDA ÷ CPU speedup. A device that did not run a case shows
"not run", never zero. Reads saved runs (pytest-benchmark JSON dicts); prints nothing itself.
"""

from __future__ import annotations

import dataclasses

from tabulate import tabulate

from bench.cases import Case

NOISE_LIMIT = 0.10
NOT_RUN = "not run"


def _fmt_rate(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _fmt_percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2g}%" if value < 0.1 else f"{100 * value:.0f}%"


def noise(bench: dict) -> float | None:
    stats = bench.get("stats") or {}
    median, iqr = stats.get("median"), stats.get("iqr")
    return iqr / median if median and iqr is not None else None


def throughput_table(benchmarks: list[dict], devices: list[str], fmt: str = "simple") -> str:
    """Render the table for ``benchmarks`` (a run's "benchmarks" list), devices in ``devices`` order."""
    cases: dict[tuple, dict[str, dict]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info") or {}
        if info.get("kind", "throughput") != "throughput" or (case := Case.from_info(info)) is None:
            continue
        cases.setdefault(dataclasses.replace(case, device=""), {})[case.device] = bench  # a row: all devices
    if not cases:
        return ""
    show_variant = any(row.variant for row in cases)
    both = "cpu" in devices and "cuda" in devices
    headers = ["model", "phase", "batch"] + (["variant"] if show_variant else [])
    for device in devices:
        headers += [f"{device} samples/s", f"{device} GFLOP/s", f"{device} % peak", f"{device} noise"]
    if both:
        headers.append("cuda ÷ cpu")
    rows = []
    for key in sorted(cases, key=lambda row: row.sort_key):  # rows: a case without its device
        by_device = cases[key]
        row = [key.model, key.phase, key.batch_size] + ([key.variant or "-"] if show_variant else [])
        for device in devices:
            bench = by_device.get(device)
            if bench is None:
                row += [NOT_RUN, "", "", ""]
                continue
            info = bench["extra_info"]
            n = noise(bench)
            noise_cell = "n/a" if n is None else f"{100 * n:.0f}%" + (" noisy" if n > NOISE_LIMIT else "")
            row += [_fmt_rate(info.get("samples_per_s")), _fmt_rate(info.get("gflops_per_s")),
                    _fmt_percent(info.get("peak_fraction")), noise_cell]
        if both:
            cpu, cuda = by_device.get("cpu"), by_device.get("cuda")
            if cpu and cuda and cpu["extra_info"].get("samples_per_s"):
                row.append(f"{cuda['extra_info']['samples_per_s'] / cpu['extra_info']['samples_per_s']:.3g}x")
            else:
                row.append("n/a")
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True,
                    colalign=("left", "left", "right") + ("left",) * (len(headers) - 3))


def legend(peaks: dict[str, dict], not_run: dict[str, str]) -> str:
    lines = [
        "samples/s = batch size / median time. noise = IQR / median of the timed rounds; "
        f"'noisy' above {NOISE_LIMIT:.0%}.",
        "GFLOP/s counts convolutions and matrix products (FlopCounterMode); an optimizer step has "
        "none (n/a). % peak is over the measured float32 matmul peak: "
        + (", ".join(f"{d} {p['gflops_per_s']:,.0f} GFLOP/s (n={p['n']})" for d, p in peaks.items()) or "not measured"),
    ]
    lines += [f"{device}: not run: {reason}" for device, reason in not_run.items()]
    return "\n".join(lines)


def time_to_accuracy_table(benchmarks: list[dict], fmt: str = "simple") -> str:
    """Tutorial loop beside fast loop: training seconds (and epochs) to the target, and their ratio."""
    runs: dict[tuple, dict[str, dict]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info") or {}
        if info.get("kind") == "time_to_accuracy":
            runs.setdefault((info["dataset"], info["model"], info["device"], info["target"]), {})[info["loop"]] = info
    rows = []
    for (dataset, model, device, target), loops in sorted(runs.items()):
        cells = []
        for loop in ("tutorial", "fast"):
            info = loops.get(loop)
            cells.append(NOT_RUN if info is None else
                         f"{info['seconds_to_accuracy']:.2f} s ({info['epochs']} ep, batch {info['batch_size']})")
        tutorial, fast = loops.get("tutorial"), loops.get("fast")
        ratio = (f"{tutorial['seconds_to_accuracy'] / fast['seconds_to_accuracy']:.2f}x"
                 if tutorial and fast else "n/a")
        rows.append([dataset, model, device, f"{target:.0%}", *cells, ratio])
    if not rows:
        return ""
    return tabulate(rows, headers=["dataset", "model", "device", "target", "tutorial loop", "fast loop",
                                   "tutorial ÷ fast"], tablefmt=fmt, disable_numparse=True)


def data_loading_table(benchmarks: list[dict], devices: list[str], fmt: str = "simple") -> str:
    """Images per second through each data source, with and without augmentation, per device."""
    cells: dict[tuple, dict[str, dict]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info") or {}
        if info.get("kind") == "data_loading":
            key = (info["dataset"], info["source"], bool(info["augment"]))
            cells.setdefault(key, {})[info["device"]] = bench
    rows = []
    for key in sorted(cells):
        row = [key[0], key[1], "augmented" if key[2] else "plain"]
        for device in devices:
            bench = cells[key].get(device)
            if bench is None:
                row += [NOT_RUN, ""]
                continue
            n = noise(bench)
            row += [_fmt_rate(bench["extra_info"].get("images_per_s")),
                    "n/a" if n is None else f"{100 * n:.0f}%" + (" noisy" if n > NOISE_LIMIT else "")]
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
    for bench in benchmarks:
        info = bench.get("extra_info") or {}
        if info.get("kind") != "distributed":
            continue
        n = noise(bench)
        efficiency = info.get("scaling_efficiency")
        rows.append(((info["backend"], info["model"], info["world_size"]), [
            info["backend"], info["model"], info["world_size"], info["global_batch_size"],
            _fmt_rate(info.get("samples_per_s")), _fmt_rate(info.get("single_process_samples_per_s")),
            "n/a" if efficiency is None else f"{efficiency:.2f}",
            f"{info['grad_max_abs_err']:.1e} / {info['param_max_abs_err']:.1e}",
            "n/a" if n is None else f"{100 * n:.0f}%" + (" noisy" if n > NOISE_LIMIT else "")]))
    if not rows:
        return ""
    return tabulate([row for _, row in sorted(rows, key=lambda r: r[0])],
                    headers=["backend", "model", "ranks", "global batch", "samples/s", "1 process samples/s",
                             "scaling efficiency", "grad / param error", "noise"],
                    tablefmt=fmt, disable_numparse=True)


def all_tables(benchmarks: list[dict], devices: list[str], fmt: str = "simple") -> list[tuple[str, str]]:
    """(title, table) for every kind of case the run holds, in reading order."""
    tables = [("Throughput: samples/s per device", throughput_table(benchmarks, devices, fmt)),
              ("Time to accuracy", time_to_accuracy_table(benchmarks, fmt)),
              ("Data loading", data_loading_table(benchmarks, devices, fmt)),
              ("Distributed training step", distributed_table(benchmarks, fmt))]
    return [(title, table) for title, table in tables if table]
