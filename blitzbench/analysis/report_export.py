"""The comparison (blitzbench.analysis.comparison) as data: a JSON document, a CSV of one row per
case and series, and a PNG plot of each case's ratio with its interval. Each file is written
whole or not at all (blitzbench.store.write_atomic)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from blitzbench.analysis import instruction_compare, paired_stats
from blitzbench.analysis.comparison import COUNTED_TIMES, Report
from blitzbench.store import write_atomic
from blitzbench.kinds import AnyCase
from blitzbench.messages import BadInput


def records(report: Report) -> list[dict]:
    """One record per case and series."""
    out = []
    for key in report.keys:
        for i, s in enumerate(report.series):
            side = report.sides.get(i)
            figure = report.figure(s, key)
            c = side.times.get(key) if side else None
            is_base = side is None
            if is_base:
                verdict = "baseline" if figure else "missing"
            elif c is not None:
                verdict = c.verdict
            elif side.time_absent:
                verdict = "not compared"
            else:
                verdict = "missing" if figure is None else "no baseline"
            out.append({
                "case": key.id, "mode": key.shown_mode, "series": s.name, "label": s.label,
                "torch_version": s.torch_version, "machine": s.machine_identity, "baseline": is_base,
                "runs": len(s.timed_runs), "counted_runs": len(s.counted_runs),
                "figure": figure.value if figure else None, "unit": figure.unit if figure else None,
                "median_s": figure.median_s if figure else None,
                "rounds": c.rounds if c else None, "ratio": 1.0 if is_base and figure else c.ratio if c else None,
                "ci_low": c.ci_low if c else None, "ci_high": c.ci_high if c else None,
                "coverage": c.coverage if c else None, "verdict": verdict, "method": c.method if c else None,
                "ratios": list(c.ratios) if c else [],
                "time_ratio_of_medians": c.time_ratio_of_medians if c else None,
                **_count_record(report, i, key)})
    return out


def _count_record(report: Report, i: int, key: AnyCase) -> dict:
    s = report.series[i]
    side = report.sides.get(i)
    own = instruction_compare.series_count(s, key)
    c = side.counts.get(key) if side else None
    return {"instructions_per_call": own.per_call if own else None,
            "instructions_runs": own.runs if own else 0,
            "instructions_spread_across_runs": own.spread_across_runs if own else None,
            "instructions_ratio": 1.0 if side is None and own else c.ratio if c else None,
            "instructions_verdict": ("baseline" if side is None and own else c.verdict if c
                                     else "not counted" if own is None else "no baseline count")}


def series_records(report: Report) -> list[dict]:
    out = []
    for i, s in enumerate(report.series):
        side = report.sides.get(i)
        summary = side.summary if side else None
        record = {"series": s.name, "label": s.label, "torch_version": s.torch_version, "devices": list(s.devices),
                  "machine": s.machine_identity, "baseline": side is None,
                  "runs": [str(r.path) for r in s.timed_runs], "counted_runs": [str(r.path) for r in s.counted_runs],
                  "rounds": side.rounds if side else len(s.timed_runs),
                  "ratio": 1.0 if side is None else summary.ratio if summary else None,
                  "ci_low": summary.ci_low if summary else None, "ci_high": summary.ci_high if summary else None,
                  "coverage": summary.coverage if summary else None,
                  "verdict": ("baseline" if side is None else summary.verdict if summary
                              else "not compared" if side.time_absent else "no case in common"),
                  "time_absent": side.time_absent if side else None,
                  "cases_in_geometric_mean": summary.cases if summary else None,
                  "verdict_counts": summary.counts if summary else None}
        if side is None:
            record.update(instructions_ratio=1.0 if report.counted else None,
                          instructions_verdict="baseline" if report.counted else "not counted")
        else:
            cs = side.count_summary
            record.update(instructions_ratio=cs.ratio, instructions_verdict=cs.verdict,
                          instructions_cases_in_geometric_mean=cs.cases, instructions_verdict_counts=cs.counts)
        out.append(record)
    return out


def document(report: Report) -> dict:
    """The whole comparison, for --json."""
    return {"baseline": report.baseline.name, "baseline_label": report.baseline.label,
            "min_change": report.min_change, "min_change_instructions": report.min_change_instructions,
            "confidence": paired_stats.CONFIDENCE, "min_rounds": paired_stats.MIN_ROUNDS,
            "machines": report.machines, "counted_runs_note": COUNTED_TIMES, "counting_isa": list(report.counting_isa),
            "series": series_records(report), "records": records(report)}


def write_json(path: Path, report: Report) -> None:
    write_atomic(path, json.dumps(document(report), indent=2) + "\n")


def write_csv(path: Path, report: Report) -> None:
    rows = records(report)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({**row, "ratios": ";".join(f"{r:.6g}" for r in row["ratios"])} for row in rows)
    write_atomic(path, buffer.getvalue())


def plot(path: Path, report: Report) -> None:
    """Each case's ratio to the baseline with its interval, one marker per series; a line at 1.0
    and a band at ±min-change; the legend above the axes, clear of the data."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BadInput("--plot needs matplotlib (pip install matplotlib)") from None
    sides = [side for side in report.others() if side.times]
    keys = [k for k in report.keys if any(k in side.times for side in sides)]
    fig, ax = plt.subplots(figsize=(9, max(3.5, 0.24 * len(keys) + 2)))
    m = report.min_change
    ax.axvspan(1 - m, 1 + m, color="0.9", zorder=0, label=f"±{m:.0%} (--min-change)")
    ax.axvline(1.0, color="0.4", linewidth=1, zorder=1)
    offsets = [(j - (len(sides) - 1) / 2) * 0.6 / max(len(sides), 1) for j in range(len(sides))]
    for side, marker, offset in zip(sides, "os^Dvx*P<>", offsets):
        ys, xs, lows, highs = [], [], [], []
        for row, key in enumerate(keys):
            c = side.times.get(key)
            if c is None:
                continue
            ys.append(row + offset)
            xs.append(c.ratio)
            lows.append(c.ratio - (c.ci_low if c.ci_low is not None else c.ratio))
            highs.append((c.ci_high if c.ci_high is not None else c.ratio) - c.ratio)
        n = side.rounds
        name = side.series.label + (f" ({n} run{'s' * (n != 1)}: no interval)" if n < 2 else
                                    f" ({n} rounds, interval coverage {paired_stats.coverage(n):.1%})")
        ax.errorbar(xs, ys, xerr=[lows, highs], fmt=marker, markersize=4, capsize=2, linewidth=1, label=name, zorder=2)
    ax.set_yticks(range(len(keys)), [k.id for k in keys], fontsize=7)
    ax.set_ylim(len(keys) - 0.5, -0.5)
    ax.set_xlabel(f"rate ÷ baseline rate ({report.baseline.label}); > 1 is faster; "
                  "bars: the median's interval over paired rounds")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=2, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
