"""The end-of-run table: each case's throughput on every device side by side.

Rows: model / phase / batch size (and the non-default axes, if any). Columns per device:
samples/s, GFLOP/s, % of the measured peak, and noise (IQR / median of the timed rounds,
marked "noisy" above 10%); then CUDA ÷ CPU speedup. A device that did not run a case shows
"not run", never zero. Reads saved runs (pytest-benchmark JSON dicts); prints nothing itself.
"""

from __future__ import annotations

from tabulate import tabulate

from bench.workloads import PHASES
from reference_models import MODELS

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


def _variant(info: dict) -> str:
    parts = [info.get("dtype", "float32"), info.get("memory_format", "contiguous"), info.get("compile_mode", "eager")]
    defaults = ["float32", "contiguous", "eager"]
    return "-".join(p for p, d in zip(parts, defaults) if p != d)


def _row_key(info: dict):
    model_order = list(MODELS).index(info["model"]) if info["model"] in MODELS else len(MODELS)
    phase_order = PHASES.index(info["phase"]) if info["phase"] in PHASES else len(PHASES)
    return (model_order, info["model"], phase_order, info["phase"], info["batch_size"], _variant(info))


def throughput_table(benchmarks: list[dict], devices: list[str], fmt: str = "simple") -> str:
    """Render the table for ``benchmarks`` (a run's "benchmarks" list), devices in ``devices`` order."""
    cases: dict[tuple, dict[str, dict]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info") or {}
        if not {"model", "phase", "batch_size", "device"} <= info.keys():
            continue
        cases.setdefault(_row_key(info), {})[info["device"]] = bench
    if not cases:
        return ""
    show_variant = any(key[5] for key in cases)
    both = "cpu" in devices and "cuda" in devices
    headers = ["model", "phase", "batch"] + (["variant"] if show_variant else [])
    for device in devices:
        headers += [f"{device} samples/s", f"{device} GFLOP/s", f"{device} % peak", f"{device} noise"]
    if both:
        headers.append("cuda ÷ cpu")
    rows = []
    for key in sorted(cases):
        by_device = cases[key]
        row = [key[1], key[3], key[4]] + ([key[5] or "-"] if show_variant else [])
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
