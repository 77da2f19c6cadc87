"""The comparison (blitzbench.analysis.comparison) as text: for the terminal (any tabulate
format) and as Markdown. Fits 120 columns by default: a few lines on the runs and machines, then
one block per compared series (case, its figure with the unit in the header, the time ratio and
its interval, the time verdict, and where counts exist the instructions per call, their ratio and
verdict), with short notes under the tables. ``wide`` is the pivot of every series side by side,
one row per case, for a wide screen or a spreadsheet.
"""

from __future__ import annotations

import textwrap

from tabulate import tabulate

from blitzbench.analysis import instruction_compare, paired_stats, verdicts
from blitzbench.analysis.comparison import COUNTED_TIMES, Figure, Report, Side
from blitzbench.cli.args import shown
from blitzbench.kinds import case_mode, case_name

WIDTH = 120


def figure_text(figure: Figure | None) -> str:
    if figure is None:
        return "missing"
    if figure.unit == "s to accuracy":
        return f"{figure.value:.3g}"
    return f"{figure.value:,.0f}" if figure.value >= 100 else f"{figure.value:.3g}"


def count_text(per_call: float) -> str:
    """Instructions per call, compactly: 28.1M, 151k, 950."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if per_call >= scale:
            return f"{per_call / scale:.3g}{suffix}"
    return f"{per_call:.0f}"


def _counts(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def runs_line(series) -> str:
    timed, counted = len(series.timed_runs), len(series.counted_runs)
    parts = [_counts(timed, "timed run")] if timed else []
    parts += [_counts(counted, "counted run")] if counted else []
    return ", ".join(parts)


def machine_lines(report: Report) -> list[str]:
    if len(report.machines) == 1:
        return [f"machine: {next(iter(report.machines))}"]
    lines = [f"the runs come from {len(report.machines)} different machines (CPU model, GPU): a time ratio across "
             "machines measures the machines, not the releases"]
    for machine, labels in report.machines.items():
        lines.append(f"  {machine}: {', '.join(labels)}")
    return lines


def side_title(report: Report, side: Side) -> str:
    s = side.series
    what = [runs_line(s)]
    if side.time_absent is None and side.rounds:
        if verdicts.enough_rounds(side.rounds):
            what.append(f"{side.rounds} paired rounds, interval coverage {paired_stats.coverage(side.rounds):.1%}")
        else:
            what.append(f"{_counts(side.rounds, 'paired round')}: too few for a time verdict "
                        f"({paired_stats.MIN_ROUNDS} or more needed)")
    return f"{s.label} against {report.baseline.label}: {'; '.join(what)}"


def header(report: Report) -> str:
    base = report.baseline
    lines = []
    if len(report.machines) > 1:
        lines += machine_lines(report)
    lines.append(f"{len(report.series)} series; baseline: {base.label} "
                 f"({shown(base.folder)}; {runs_line(base)}; {report.baseline_reason or 'the oldest series'})")
    if len(report.machines) == 1:
        lines += machine_lines(report)
    return "\n".join(lines)


def notes(report: Report) -> list[str]:
    """The legend, as short notes under the tables."""
    m, mi = report.min_change, report.min_change_instructions
    out = []
    if report.timed:
        out += [
            "ratio: rate ÷ baseline rate (> 1: faster), the median over paired rounds; [interval]: its "
            f"distribution-free {paired_stats.CONFIDENCE:.0%} interval (order statistics)",
            f"verdict: faster / slower when the whole interval lies beyond ±{m:.0%}, same within, unclear when it "
            f"straddles; unclear (N runs) with fewer than {paired_stats.MIN_ROUNDS} paired rounds: one run per side "
            "cannot tell a release from the machine's drift",
        ]
    if any(s.counted_runs for s in report.series):
        out.append(f"counted runs (--instructions): {COUNTED_TIMES}; their counts are compared")
    if report.counted:
        out.append(f"instr.: Callgrind's instructions per call; instr. ratio: series ÷ baseline; more / fewer beyond "
                   f"±{mi:.1%}, same within; one run per side decides (counts do not drift), but they are not time")
    return out


def _wrapped(lines: list[str], prefix: str = "note: ") -> list[str]:
    out = []
    for line in lines:
        out += textwrap.wrap(line, WIDTH, initial_indent=prefix, subsequent_indent=" " * len(prefix))
    return out


def _unit_groups(report: Report, side: Side) -> dict[str, list[tuple]]:
    """The side's cases grouped by their figure's unit (samples/s, images/s, s to accuracy)."""
    groups: dict[str, list[tuple]] = {}
    for key in report.keys:
        in_either = any(key in r.cases for s in (side.series, report.baseline) for r in s.runs)
        if key not in side.times and key not in side.counts and not in_either:
            continue
        figure = report.figure(side.series, key) or report.figure(report.baseline, key)
        unit = figure.unit if figure else "instructions"
        groups.setdefault(unit, []).append(key)
    return groups


def _side_rows(report: Report, side: Side, keys: list[tuple], with_time: bool, with_counts: bool) -> list[list[str]]:
    rows = []
    for key in keys:
        row = [case_name(key)]
        if with_time:
            c = side.times.get(key)
            figure = report.figure(side.series, key)
            row += [figure_text(figure), c.interval_text if c else "n/a",
                    c.verdict if c else "missing" if figure is None else "no baseline"]
        if with_counts:
            own = instruction_compare.series_count(side.series, key)
            cc = side.counts.get(key)
            row += ["-" if own is None else count_text(own.per_call),
                    f"{cc.ratio:.4f}" if cc else "n/a", cc.verdict if cc else ("not counted" if own is None else "no baseline")]
        rows.append(row)
    return rows


def _summary_row(side: Side, with_time: bool, with_counts: bool) -> list[str]:
    row = ["geometric mean"]
    if with_time:
        s = side.summary
        row += [f"{s.cases} cases" if s else "", s.interval_text if s else "n/a", s.verdict if s else ""]
    if with_counts:
        cs = side.count_summary
        row += [f"{cs.cases} cases", "n/a" if cs.ratio is None else f"{cs.ratio:.4f}", cs.verdict]
    return row


def _table(report: Report, side: Side, unit: str, keys: list[tuple], with_time: bool, with_counts: bool,
           with_summary: bool, fmt: str) -> str:
    headers = ["case"] + ([unit, "ratio [interval]", "verdict"] if with_time else []) + \
              (["instr./call", "instr. ratio", "instr."] if with_counts else [])
    rows = _side_rows(report, side, keys, with_time, with_counts)
    if with_summary:
        rows.append(_summary_row(side, with_time, with_counts))
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def _side_tables(report: Report, side: Side, fmt: str) -> list[str]:
    """A table per unit of the side's cases; time and counts side by side, or one under the other
    where together they would not fit ``WIDTH``."""
    with_time, with_counts = bool(side.times), bool(side.counts)
    out = []
    groups = list(_unit_groups(report, side).items())
    for n, (unit, keys) in enumerate(groups):
        last = n == len(groups) - 1
        table = _table(report, side, unit, keys, with_time, with_counts, last, fmt)
        if with_time and with_counts and max(map(len, table.splitlines())) > WIDTH:
            out += [_table(report, side, unit, keys, True, False, last, fmt),
                    _table(report, side, unit, keys, False, True, last, fmt)]
        else:
            out.append(table)
    if side.times and side.summary:
        counts = side.summary.counts
        out.append("time verdicts: " + (", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none"))
    if side.counts:
        counts = side.count_summary.counts
        out.append("instruction verdicts: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
    if side.time_absent:
        out.append(f"time: not compared; {side.time_absent}")
    if not side.times and not side.counts and not side.time_absent:
        out.append("no case in common with the baseline")
    return out


def render(report: Report, fmt: str = "simple") -> str:
    """The header, one block per compared series, the notes; Markdown headings for github/pipe."""
    markdown = fmt in ("github", "pipe")
    lines = []
    head = header(report).splitlines()
    lines.append("  \n".join(head) if markdown else "\n".join(head))
    for side in report.others():
        title = side_title(report, side)
        lines += ["", f"### {title}" if markdown else "\n".join(textwrap.wrap(title, WIDTH)), ""]
        lines.append("\n\n".join(_side_tables(report, side, fmt)))
    if not report.sides:
        lines += ["", "only one series: nothing to compare it with"]
    note_lines = notes(report)
    if note_lines:
        lines.append("")
        lines += [f"- {n}" for n in note_lines] if markdown else _wrapped(note_lines)
    return "\n".join(lines)


def render_wide(report: Report, fmt: str = "simple") -> str:
    """Every series side by side, one row per case (wide: a column group per series)."""
    headers = ["case", "mode"]
    for i, s in enumerate(report.series):
        side = report.sides.get(i)
        note = " (baseline)" if side is None else f" ({_counts(side.rounds, 'round')})"
        headers += [f"{s.label}{note}\nfigure", "ratio [interval]", "verdict"]
        if report.counted:
            headers += ["instr./call"] + ([] if side is None else ["instr.\nratio", "instr.\nverdict"])
    rows = []
    for key in report.keys:
        row = [case_name(key), case_mode(key) or "-"]
        for i, s in enumerate(report.series):
            side = report.sides.get(i)
            figure = report.figure(s, key)
            row.append(figure_text(figure))
            if figure is None:
                row += ["", ""]
            elif side is None:
                row += ["1.00", "baseline"]
            elif key not in side.times:
                row += ["n/a", "no baseline"]
            else:
                row += [side.times[key].interval_text, side.times[key].verdict]
            if report.counted:
                own = instruction_compare.series_count(s, key)
                cell = "-" if own is None else count_text(own.per_call)
                if side is None:
                    row.append(cell)
                else:
                    cc = side.counts.get(key)
                    row += [cell, f"{cc.ratio:.4f}" if cc else "n/a", cc.verdict if cc else ""]
        rows.append(row)
    if fmt in ("github", "pipe"):
        headers = [h.replace("\n", " ") for h in headers]
    return header(report) + "\n\n" + tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True) + \
        "\n\n" + "\n".join(_wrapped(notes(report)))
