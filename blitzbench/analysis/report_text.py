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

from blitzbench import counting_isa
from blitzbench.analysis import instruction_compare, paired_stats, verdicts
from blitzbench.analysis.comparison import COUNTED_TIMES, Figure, Report, Side
from blitzbench.figures import rate_text
from blitzbench.kinds import SECONDS, AnyCase
from blitzbench.messages import shown

WIDTH = 120


def figure_text(figure: Figure | None) -> str:
    """A series' figure: a rate as every table shows rates (blitzbench.figures.rate_text), seconds
    to three significant digits."""
    if figure is None:
        return "missing"
    return f"{figure.value:.3g}" if figure.unit == SECONDS else rate_text(figure.value)


def count_text(count) -> str:
    """A series' instructions per call (instruction_compare.SeriesCount), whole: 27,578,864, with
    the spread across its runs where it has several: 1,001 (±0.10%, 3 runs)."""
    if count.spread_across_runs is None:
        return f"{count.per_call:,.0f}"
    return f"{count.per_call:,.0f} (±{count.spread_across_runs / 2:.2%}, {count.runs} runs)"


def runs_line(series) -> str:
    timed, counted = len(series.timed_runs), len(series.counted_runs)
    parts = [verdicts.plural(timed, "timed run")] if timed else []
    parts += [verdicts.plural(counted, "counted run")] if counted else []
    return ", ".join(parts)


def machine_lines(report: Report) -> list[str]:
    if len(report.machines) == 1:
        return [f"machine: {next(iter(report.machines))}"]
    lines = [f"the runs come from {len(report.machines)} different machines (CPU model, GPU): a time ratio "
             "across machines measures the machines, not the releases"]
    for machine, labels in report.machines.items():
        lines.append(f"{machine}: {', '.join(labels)}")
    return lines


def side_title(report: Report, side: Side) -> str:
    s = side.series
    what = [runs_line(s)]
    if side.time_absent is None and side.rounds:
        if verdicts.enough_rounds(side.rounds):
            what.append(f"{side.rounds} paired rounds with the baseline, interval coverage "
                        f"{paired_stats.coverage(side.rounds):.1%}")
        else:
            what.append(f"{verdicts.plural(side.rounds, 'paired round')} with the baseline: too few for a time verdict "
                        f"({paired_stats.MIN_ROUNDS} or more needed)"
                        + (f"; intervals: min..max, coverage {paired_stats.coverage(side.rounds):.1%}"
                           if side.rounds >= 2 else ""))
    if s.machine_identity != report.baseline.machine_identity:
        what.append(f"another machine than the baseline's ({s.machine_identity})")
    return '; '.join(what)


def header_lines(report: Report) -> list[str]:
    """What was compared: the machines (first when there are several), the baseline and why."""
    base = report.baseline
    lines = machine_lines(report) if len(report.machines) > 1 else []
    lines.append(f"{len(report.series)} series; baseline: {base.label} "
                 f"({', '.join(shown(f) for f in base.folders)}; {runs_line(base)}; "
                 f"{report.baseline_reason or 'the lowest release'})")
    if len(report.machines) == 1:
        lines += machine_lines(report)
    if len(report.counting_isa) == 1:
        [setting] = report.counting_isa
        lines.append(f"instructions counted with --counting-isa {setting} "
                     f"({counting_isa.DESCRIPTIONS.get(setting, 'unknown setting')})")
    elif report.counting_isa:
        lines.append(f"instructions counted under --counting-isa {' and '.join(report.counting_isa)}, in different "
                     "series: counts are compared only between runs of one setting")
    return lines


def header(report: Report) -> str:
    return "\n".join(wrap(header_lines(report)))


def wrap(lines: list[str], indent: str = "  ") -> list[str]:
    """Each line cut at whole words to ``WIDTH``, its continuation indented."""
    out = []
    for line in lines:
        out += textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False) or [""]
    return out


def notes(report: Report) -> list[str]:
    """The legend, as short notes under the tables."""
    m, mi = report.min_change, report.min_change_instructions
    out = []
    if report.timed:
        out += [
            "ratio: rate ÷ baseline rate (> 1: faster; time to accuracy: baseline seconds ÷ seconds), the median over "
            f"paired rounds; [interval]: its distribution-free {paired_stats.CONFIDENCE:.0%} interval (order statistics)",
            f"verdict: faster / slower when the whole interval lies beyond ±{m:.0%}, same within, unclear when it "
            f"straddles; unclear (N runs) with fewer than {paired_stats.MIN_ROUNDS} paired rounds, whose interval "
            "(min..max) covers less than 95%: a run or two per side cannot tell a release from the machine's drift",
        ]
    if any(s.counted_runs for s in report.series):
        out.append(f"counted runs: {COUNTED_TIMES}, as other work shared the cores while they ran; their counts are "
                   "compared")
    if report.counted:
        out.append(f"instr.: Callgrind's instructions per call; instr. ratio: series ÷ baseline; more / fewer beyond "
                   f"±{mi:.1%}, same within; one run per side decides (counts do not drift), but they are not time")
    return out


def _wrapped(lines: list[str], prefix: str = "note: ") -> list[str]:
    out = []
    for line in lines:
        out += textwrap.wrap(line, WIDTH, initial_indent=prefix, subsequent_indent=" " * len(prefix),
                             break_on_hyphens=False)
    return out


def _time_keys(report: Report, side: Side) -> list[AnyCase]:
    """The cases either side timed (a case only one of them ran shows as missing)."""
    if not side.times:
        return []
    return [k for k in report.keys
            if any(k in r.cases for s in (side.series, report.baseline) for r in s.timed_runs)]


def _count_keys(report: Report, side: Side) -> list[AnyCase]:
    if not side.counts:
        return []
    return [k for k in report.keys if any(k in r.instructions for s in (side.series, report.baseline) for r in s.runs)]


def _by_unit(report: Report, side: Side, keys: list[AnyCase]) -> dict[str, list[AnyCase]]:
    """Cases grouped by their figure's unit (samples/s, images/s, s to accuracy)."""
    groups: dict[str, list[AnyCase]] = {}
    for key in keys:
        figure = report.figure(side.series, key) or report.figure(report.baseline, key)
        groups.setdefault(figure.unit if figure else "samples/s", []).append(key)
    return groups


def _side_rows(report: Report, side: Side, keys: list[AnyCase], with_time: bool, with_counts: bool) -> list[list[str]]:
    rows = []
    for key in keys:
        row = [key.id]
        if with_time:
            c = side.times.get(key)
            figure = report.figure(side.series, key)
            row += [figure_text(figure), c.interval_text if c else "n/a",
                    c.verdict if c else "missing" if figure is None else "no baseline"]
        if with_counts:
            own = instruction_compare.series_count(side.series, key)
            cc = side.counts.get(key)
            row += ["-" if own is None else count_text(own),
                    f"{cc.ratio:.4f}" if cc else "n/a", cc.verdict if cc else ("not counted" if own is None else "no baseline")]
        rows.append(row)
    return rows


def _table(report: Report, side: Side, unit: str, keys: list[AnyCase], with_time: bool, with_counts: bool,
           fmt: str) -> str:
    headers = ["case"] + ([unit, "ratio [interval]", "verdict"] if with_time else []) + \
              (["instr./call", "instr. ratio", "instr."] if with_counts else [])
    rows = _side_rows(report, side, keys, with_time, with_counts)
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def _side_tables(report: Report, side: Side, fmt: str) -> list[str]:
    """A table per unit of the cases timed, the instruction counts beside them where that fits
    ``WIDTH``, else a table of counts under them."""
    time_keys, count_keys = _time_keys(report, side), _count_keys(report, side)
    if time_keys and count_keys:
        groups = list(_by_unit(report, side, list(dict.fromkeys(time_keys + count_keys))).items())
        together = [_table(report, side, unit, keys, True, True, fmt) for unit, keys in groups]
        if max(len(line) for table in together for line in table.splitlines()) <= WIDTH:
            return together
    out = []
    groups = list(_by_unit(report, side, time_keys).items())
    out += [_table(report, side, unit, keys, True, False, fmt) for unit, keys in groups]
    if count_keys:
        out.append(_table(report, side, "", count_keys, False, True, fmt))
    return out


def _verdict_lines(report: Report, side: Side) -> list[str]:
    """The block's summary: the geometric means, the count of each verdict, what was not compared."""
    out = []
    if side.times and side.summary:
        s = side.summary
        counts = ", ".join(f"{n} {v}" for v, n in sorted(s.counts.items()))
        out.append(f"time: geometric mean over {verdicts.plural(s.cases, 'case')}: {s.interval_text}, {s.verdict}; "
                   f"verdicts: {counts}")
    if side.counts:
        cs = side.count_summary
        counts = ", ".join(f"{n} {v}" for v, n in cs.counts.items())
        out.append(f"instructions: geometric mean over {verdicts.plural(cs.cases, 'case')}: {cs.ratio:.4f}, "
                   f"{cs.verdict}; verdicts: {counts}")
    if side.time_absent:
        out.append(f"time: not compared: {side.time_absent}")
    if not side.counts and any(r.instructions for r in side.series.runs):
        out.append("instructions: not compared: the baseline has no count")
    if not side.times and not side.counts and not side.time_absent:
        out.append("no case in common with the baseline")
    return out


def render(report: Report, fmt: str = "simple") -> str:
    """The header, one block per compared series, the notes; Markdown headings for github/pipe."""
    markdown = fmt in ("github", "pipe")
    lines = []
    head = header_lines(report)
    lines += [f"- {line}" for line in head] if markdown else [header(report)]
    if markdown:
        lines = wrap(lines)
    for side in report.others():
        details = side_title(report, side)
        if markdown:
            lines += ["", f"### {side.series.label}", "", *wrap([details], ""), ""]
        else:
            lines += ["", *wrap([f"{side.series.label}: {details}"]), ""]
        tables = _side_tables(report, side, fmt)
        if tables:
            lines += ["\n\n".join(tables), ""]
        summary = _verdict_lines(report, side)
        lines += wrap([f"- {line}" for line in summary]) if markdown else wrap(summary)
    if not report.sides:
        lines += ["", "only one series: nothing to compare it with"]
    note_lines = notes(report)
    if note_lines:
        lines.append("")
        lines += wrap([f"- {n}" for n in note_lines]) if markdown else _wrapped(note_lines)
    return "\n".join(lines)


def render_wide(report: Report, fmt: str = "simple") -> str:
    """Every series side by side, one row per case (wide: a column group per series)."""
    headers = ["case", "mode"]
    for i, s in enumerate(report.series):
        side = report.sides.get(i)
        note = " (baseline)" if side is None else f" ({verdicts.plural(side.rounds, 'round')})"
        headers += [f"{s.label}{note}\nfigure", "ratio [interval]", "verdict"]
        if report.counted:
            headers += ["instr./call"] + ([] if side is None else ["instr.\nratio", "instr.\nverdict"])
    rows = []
    for key in report.keys:
        row = [key.id, key.shown_mode or "-"]
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
                cell = "-" if own is None else count_text(own)
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
