"""The comparison (blitzbench.analysis.comparison) as one self-contained HTML page (``report --html``).

The page holds, top to bottom:

- what was compared: the note first when the runs come from several machines, then the number of
  series, the baseline and why it was chosen, the machine(s), and per series its folder, torch
  version, machine and runs (timed and counted); the notes that say how to read the ratios;
- a heat map of the time ratio, cases (rows) by compared series (columns): each cell coloured
  by the ratio on a log scale diverging around 1.0 (blue faster, red slower, clipped at ±30%),
  pale and hatched where the verdict is unclear (the interval straddles ±min-change, or too few
  runs), so that only a called change is seen in full colour; grey and hatched where the case is
  missing; hovering a cell shows its ratio, interval and verdict;
- the same heat map for the instruction-count ratio where counts exist (red more, blue fewer,
  clipped at ±5%);
- per compared series the geometric mean of its time ratios with the interval and verdict, the
  count of each verdict, and the same for instruction counts;
- where callgrind profiles lie beside counted runs, for each case whose count verdict is more or
  fewer (the 8 largest changes per series), the functions whose counts changed most, exclusive
  and inclusive (what ``report A B --explain CASE`` prints), each case folded in a <details>;
- given a verification table (verification.json), the checks by torch release with each
  release's known bugs, the known bugs with their upstream links, and the checks by area.

Nothing is loaded from elsewhere: styles are inline, charts are inline SVG, no fonts, scripts or
images. Every text is escaped. The file is written whole or not at all
(blitzbench.store.write_atomic).
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from blitzbench.analysis import instruction_compare, paired_stats, report_text, verdicts
from blitzbench.analysis.comparison import Report, Side
from blitzbench.store import write_atomic
from blitzbench.kinds import AnyCase
from blitzbench.messages import BadInput, shown

TIME_CLIP = 0.30  # the time heat map's colours saturate at ±30%
COUNT_CLIP = 0.05  # the instruction heat map's at ±5%
EXPLAIN_CASES = 8  # per compared series, the cases with the largest count changes explained
EXPLAIN_TOP = 10  # functions per table
MISSING = "missing"
DECIDED = (verdicts.FASTER, verdicts.SLOWER, verdicts.MORE, verdicts.FEWER)  # printed bold in the cells
NO_BASELINE = "no baseline"

# ColorBrewer's RdBu, red end first: red is worse (slower, more instructions), blue better.
_RDBU = ["#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac"]
_MISSING_FILL = "#e4e4e4"

CELL_H = 22
FONT = 11  # px, the heat maps' text
CHAR_W = 6.4  # px, about one character of FONT-sized text


def _e(value) -> str:
    return escape(str(value), quote=True)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def _mix(a: tuple, b: tuple, t: float) -> tuple:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def diverging(t: float, pale: bool = False) -> str:
    """The colour of ``t`` in [-1, 1]: -1 deep red, 0 near white, 1 deep blue; ``pale`` mixes it
    halfway to white."""
    t = max(-1.0, min(1.0, t))
    pos = (t + 1) / 2 * (len(_RDBU) - 1)
    i = min(int(pos), len(_RDBU) - 2)
    rgb = _mix(_rgb(_RDBU[i]), _rgb(_RDBU[i + 1]), pos - i)
    if pale:
        rgb = _mix(rgb, (255, 255, 255), 0.55)
    return "#%02x%02x%02x" % rgb


def time_position(ratio: float) -> float:
    """A rate ratio on the colour scale: > 0 faster (blue), < 0 slower (red), log scale."""
    return math.log(ratio) / math.log(1 + TIME_CLIP) if ratio > 0 else -1.0


def count_position(ratio: float) -> float:
    """An instruction ratio on the colour scale: more instructions red (< 0), fewer blue."""
    return -math.log(ratio) / math.log(1 + COUNT_CLIP) if ratio > 0 else 1.0


# -- the heat maps ----------------------------------------------------------------------------------

class _Cell:
    def __init__(self, verdict: str, ratio: float | None = None, text: str = "", title: str = "",
                 position: float = 0.0, pale: bool = False):
        self.verdict, self.ratio, self.text, self.title = verdict, ratio, text, title
        self.position, self.pale = position, pale


def _text_width(text: str) -> float:
    return len(text) * CHAR_W


def _heatmap_svg(prefix: str, rows: list[str], columns: list[str], cells: list[list[_Cell]],
                 summary: list[_Cell] | None) -> str:
    """Rows by columns of cells, the row names on the left, the column names slanted above."""
    cell_w = max(46, min(84, int(900 / max(len(columns), 1))))
    left = int(max(map(_text_width, rows + ["geometric mean"])) + 12)
    slant = 0.7071  # 45 degrees
    top = int(max(map(_text_width, columns)) * slant + 16)
    right = int(max(0.0, max(map(_text_width, columns)) * slant - cell_w / 2) + 16)
    n_rows = len(rows) + (1 if summary else 0)
    width = left + cell_w * len(columns) + right
    height = top + CELL_H * n_rows + (6 if summary else 0) + 4
    out = [f'<svg class="heatmap" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'font-size="{FONT}">',
           f'<defs><pattern id="{prefix}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="1.2"/>'
           '</pattern></defs>']
    for j, name in enumerate(columns):
        x = left + cell_w * j + cell_w / 2
        out.append(f'<text class="col" x="{x:.1f}" y="{top - 6}" transform="rotate(-45 {x:.1f} {top - 6})">'
                   f'{_e(name)}</text>')
    all_rows = [(name, row, "cell") for name, row in zip(rows, cells)]
    if summary:
        all_rows.append(("geometric mean", summary, "gm"))
    for i, (name, row, cls) in enumerate(all_rows):
        y = top + CELL_H * i + (6 if cls == "gm" else 0)
        out.append(f'<text class="row{" gm-name" if cls == "gm" else ""}" x="{left - 8}" y="{y + CELL_H / 2 + 4:.1f}" '
                   f'text-anchor="end">{_e(name)}</text>')
        for j, (column, cell) in enumerate(zip(columns, row)):
            x = left + cell_w * j
            blank = cell.ratio is None
            fill = _MISSING_FILL if blank else diverging(cell.position, cell.pale)
            data = (f' data-case="{_e(name)}" data-series="{_e(column)}" '
                    f'data-ratio="{"" if blank else f"{cell.ratio:.6g}"}" data-verdict="{_e(cell.verdict)}"'
                    if cls == "cell" else "")
            out.append(f'<rect class="{cls}" x="{x}" y="{y}" width="{cell_w - 1}" height="{CELL_H - 1}" '
                       f'fill="{fill}"{data}><title>{_e(cell.title)}</title></rect>')
            if blank or cell.pale:
                out.append(f'<rect class="hatch" x="{x}" y="{y}" width="{cell_w - 1}" height="{CELL_H - 1}" '
                           f'fill="url(#{prefix}-hatch)" opacity="{0.8 if blank else 0.55}"/>')
            text = cell.text
            if text and _text_width(text) <= cell_w - 6:
                ink = "#ffffff" if abs(cell.position) > 0.62 and not cell.pale and not blank else "#1a1a1a"
                decided = verdicts.kind(cell.verdict) in DECIDED
                weight = ' font-weight="700"' if cls == "gm" or decided else ""
                out.append(f'<text class="val" x="{x + (cell_w - 1) / 2:.1f}" y="{y + CELL_H / 2 + 4:.1f}" '
                           f'text-anchor="middle" fill="{ink}"{weight}>{_e(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def _legend_svg(prefix: str, clip: float, low_word: str, high_word: str, position, fmt: str,
                pale_word: str | None) -> str:
    """A colour bar from 1/(1+clip) to 1+clip (log scale) with ticks, and the swatches of the
    pale and missing cells."""
    bar_w, bar_x = 300, 80
    ticks = [1 / (1 + clip), 1 / (1 + clip / 2), 1.0, 1 + clip / 2, 1 + clip]
    out = [f'<svg class="legend" width="{bar_x + bar_w + 330}" height="46" font-size="{FONT}" role="img">',
           f'<defs><pattern id="{prefix}-legend-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="1.2"/>'
           '</pattern></defs>']
    steps = 60
    for k in range(steps):
        t = -1 + 2 * (k + 0.5) / steps
        out.append(f'<rect x="{bar_x + bar_w * k / steps:.1f}" y="4" width="{bar_w / steps + 0.6:.1f}" height="14" '
                   f'fill="{diverging(t)}"/>')
    # the scale's left end is -1 on the colour scale
    for ratio in ticks:
        t = position(ratio)
        x = bar_x + bar_w * (t + 1) / 2
        out.append(f'<line x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="23" stroke="#333"/>'
                   f'<text x="{x:.1f}" y="35" text-anchor="middle">{_e(format(ratio, fmt))}</text>')
    out.append(f'<text x="{bar_x - 6}" y="15" text-anchor="end">{_e(low_word)}</text>')
    out.append(f'<text x="{bar_x + bar_w + 6}" y="15">{_e(high_word)}</text>')
    x = bar_x + bar_w + 70
    if pale_word:
        out.append(f'<rect x="{x}" y="4" width="22" height="14" fill="{diverging(0.5, True)}"/>'
                   f'<rect x="{x}" y="4" width="22" height="14" fill="url(#{prefix}-legend-hatch)" opacity="0.55"/>'
                   f'<text x="{x + 28}" y="15">{_e(pale_word)}</text>')
        x += 28 + _text_width(pale_word) + 14
    out.append(f'<rect x="{x}" y="4" width="22" height="14" fill="{_MISSING_FILL}"/>'
               f'<rect x="{x}" y="4" width="22" height="14" fill="url(#{prefix}-legend-hatch)" opacity="0.8"/>'
               f'<text x="{x + 28}" y="15">missing</text></svg>')
    return "".join(out)


def time_sides(report: Report) -> list[Side]:
    """The compared series whose times are compared (the time heat map's columns)."""
    return [side for side in report.others() if side.time_absent is None and side.rounds]


def time_keys(report: Report) -> list[AnyCase]:
    """The cases of any timed run (the time heat map's rows)."""
    return [k for k in report.keys if any(k in r.cases for s in report.series for r in s.timed_runs)]


def count_sides(report: Report) -> list[Side]:
    """The compared series with instruction counts, where the baseline has them too."""
    if not any(r.instructions for r in report.baseline.runs):
        return []
    return [side for side in report.others() if any(r.instructions for r in side.series.runs)]


def count_keys(report: Report) -> list[AnyCase]:
    return [k for k in report.keys if any(k in r.instructions for s in report.series for r in s.runs)]


def _time_cell(report: Report, side: Side, key: AnyCase) -> _Cell:
    name, label = key.id, side.series.label
    c = side.times.get(key)
    if c is None:
        own = report.figure(side.series, key)
        verdict = MISSING if own is None else NO_BASELINE
        why = f"{label} has no timed run of it" if own is None else "the baseline has no timed run of it"
        return _Cell(verdict, title=f"{name}\n{label}\n{verdict}: {why}")
    rounds = verdicts.plural(c.rounds, "paired round")
    title = (f"{name}\n{label}\nratio {c.interval_text} (rate ÷ baseline rate; > 1 faster)\n"
             f"verdict: {c.verdict}\n{rounds}")
    return _Cell(c.verdict, c.ratio, f"{c.ratio:.2f}", title, time_position(c.ratio),
                 pale=verdicts.kind(c.verdict) == verdicts.UNCLEAR)


def _count_cell(side: Side, key: AnyCase) -> _Cell:
    name, label = key.id, side.series.label
    c = side.counts.get(key)
    if c is None:
        own = instruction_compare.series_count(side.series, key)
        verdict = MISSING if own is None else NO_BASELINE
        why = f"{label} has no count of it" if own is None else "the baseline has no count of it"
        return _Cell(verdict, title=f"{name}\n{label}\n{verdict}: {why}")
    title = (f"{name}\n{label}\n{c.base_per_call:,.0f} → {c.per_call:,.0f} "
             f"instructions per call\nratio {c.ratio:.4f} ({c.ratio - 1:+.2%})\nverdict: {c.verdict}")
    return _Cell(c.verdict, c.ratio, f"{c.ratio:.3f}", title, count_position(c.ratio))


def _time_summary(side: Side) -> _Cell:
    s = side.summary
    if s is None or s.ratio is None:
        return _Cell("n/a", title=f"{side.series.label}: no geometric mean")
    return _Cell(s.verdict, s.ratio, f"{s.ratio:.3f}",
                 f"geometric mean over {verdicts.plural(s.cases, 'case')}\n{side.series.label}\nratio {s.interval_text}\n"
                 f"verdict: {s.verdict}", time_position(s.ratio), pale=verdicts.kind(s.verdict) == verdicts.UNCLEAR)


def _count_summary(side: Side) -> _Cell:
    cs = side.count_summary
    if cs.ratio is None:
        return _Cell("n/a", title=f"{side.series.label}: not counted")
    return _Cell(cs.verdict, cs.ratio, f"{cs.ratio:.3f}",
                 f"geometric mean over {verdicts.plural(cs.cases, 'case')}\n{side.series.label}\nratio {cs.ratio:.4f}\n"
                 f"verdict: {cs.verdict}", count_position(cs.ratio))


def _absent_list(sides: list[Side]) -> str:
    """Why these series' times are not compared, one item per reason with the series it holds for."""
    reasons: dict[str, list[str]] = {}
    for side in sides:
        reasons.setdefault(side.time_absent or "no timed round paired with the baseline's", []).append(
            side.series.label)
    return '<ul class="note">' + "".join(f"<li>{_e(', '.join(labels))}: {_e(why)}</li>"
                                         for why, labels in reasons.items()) + "</ul>"


def time_section(report: Report) -> str:
    sides, keys = time_sides(report), time_keys(report)
    parts = ['<section id="time-heatmap"><h2>Time: rate ÷ baseline rate</h2>']
    if not sides or not keys:
        parts.append(f'<p class="none">No time is compared.</p>{_absent_list(report.others())}</section>')
        return "".join(parts)
    parts.append(f'<p>Each cell: the median over paired rounds of the series\' rate ÷ the baseline\'s '
                 f'({_e(report.baseline.label)}); above 1 is faster. Blue faster, red slower, log scale, full colour '
                 f'from ±{TIME_CLIP:.0%}; bold: faster or slower (the whole interval beyond '
                 f'±{report.min_change:.0%}); pale and hatched: unclear (the interval straddles ±{report.min_change:.0%}, '
                 f'or too few runs for a verdict); hover a cell for its interval and verdict.</p>')
    cells = [[_time_cell(report, side, k) for side in sides] for k in keys]
    svg = _heatmap_svg("time", [k.id for k in keys], [side.series.label for side in sides], cells,
                       [_time_summary(side) for side in sides])
    parts.append(f'<div class="scroll">{svg}</div>')
    parts.append(_legend_svg("time", TIME_CLIP, "slower", "faster", time_position, ".2f", "unclear"))
    left_out = [side for side in report.others() if side not in sides]
    if left_out:
        parts.append(f'<p class="note">Not in the map:</p>{_absent_list(left_out)}')
    parts.append("</section>")
    return "".join(parts)


def count_section(report: Report) -> str:
    if not report.counted:
        return ""
    sides, keys = count_sides(report), count_keys(report)
    parts = ['<section id="instructions-heatmap"><h2>Instructions per call: series ÷ baseline</h2>']
    if not sides or not keys:
        parts.append('<p class="none">No instruction counts to compare: the baseline '
                     f'({_e(report.baseline.label)}) or the other series have none.</p></section>')
        return "".join(parts)
    parts.append(f'<p>Each cell: Callgrind\'s instructions per call of the series ÷ the baseline\'s. Red more, blue '
                 f'fewer, log scale, full colour from ±{COUNT_CLIP:.0%}; bold: more or fewer (beyond '
                 f'±{report.min_change_instructions:.1%}), else same. Counts are not time.</p>')
    cells = [[_count_cell(side, k) for side in sides] for k in keys]
    svg = _heatmap_svg("instr", [k.id for k in keys], [side.series.label for side in sides], cells,
                       [_count_summary(side) for side in sides])
    parts.append(f'<div class="scroll">{svg}</div>')
    parts.append(_legend_svg("instr", COUNT_CLIP, "more", "fewer", count_position, ".3f", None))
    parts.append("</section>")
    return "".join(parts)


# -- header, summary table ----------------------------------------------------------------------------

def _table(headers: list[str], rows: list[list[str]], cls: str = "", raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then the caller escaped them)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else _e(c)}</td>" for c in row) + "</tr>" for row in rows)
    attribute = f' class="{_e(cls)}"' if cls else ""
    return f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def header_section(report: Report) -> str:
    base = report.baseline
    parts = ['<section id="header">']
    if len(report.machines) > 1:
        parts.append(f'<p class="warning">The runs come from {len(report.machines)} different machines (CPU model, '
                     'GPU): a time ratio across machines measures the machines, not the releases.</p>')
    parts.append(f'<p>{len(report.series)} series; baseline: <b>{_e(base.label)}</b> ({_e(", ".join(shown(f) for f in base.folders))}; '
                 f'{_e(report_text.runs_line(base))}; {_e(report.baseline_reason or "the lowest release")}).</p>')
    if len(report.machines) == 1:
        parts.append(f'<p>Machine: {_e(next(iter(report.machines)))}.</p>')
    else:
        parts.append("<ul>" + "".join(f"<li>{_e(machine)}: {_e(', '.join(labels))}</li>"
                                      for machine, labels in report.machines.items()) + "</ul>")
    rows = []
    for i, s in enumerate(report.series):
        side = report.sides.get(i)
        if side is None:
            paired = "baseline"
        elif side.time_absent:
            paired = "times not compared"
        else:
            paired = f"{side.rounds}" + ("" if verdicts.enough_rounds(side.rounds) else
                                         f" (too few for a verdict: {paired_stats.MIN_ROUNDS} or more)")
        rows.append([s.label, ", ".join(shown(f) for f in s.folders), s.torch_version, s.machine_identity, str(len(s.timed_runs)),
                     str(len(s.counted_runs)), paired])
    parts.append(_table(["series", "folder", "torch", "machine", "timed runs", "counted runs", "paired rounds"],
                        rows, "series"))
    if not report.sides:
        parts.append('<p class="none">Only one series: nothing to compare it with.</p>')
    notes = report_text.notes(report)
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items()) if n) or "none"


def summary_section(report: Report) -> str:
    """Per compared series: the geometric means, their verdicts and the count of each verdict; the
    time columns where any time is compared, the instruction columns where any count is."""
    if not report.sides:
        return ""
    with_time, with_counts = report.timed, bool(count_sides(report))
    headers = ["series"]
    headers += ["time ratio [interval]", "time verdict", "cases", "time verdicts per case"] if with_time else []
    headers += ["instr. ratio", "instr. verdict", "cases", "instr. verdicts per case"] if with_counts else []
    rows = []
    for side in report.others():
        s, cs = side.summary, side.count_summary
        row = [side.series.label]
        if with_time:
            row += ([s.interval_text, s.verdict, str(s.cases), _counts_text(s.counts)] if s is not None else
                    ["n/a", "not compared" if side.time_absent else "no case in common", "", ""])
        if with_counts:
            row += (["n/a", cs.verdict, "", ""] if cs.ratio is None else
                    [f"{cs.ratio:.4f}", cs.verdict, str(cs.cases), _counts_text(cs.counts)])
        rows.append(row)
    return ('<section id="summary"><h2>Geometric means and verdicts</h2>'
            + _table(headers, rows, "summary") + "</section>")


# -- where the instructions went --------------------------------------------------------------------

def explained_keys(side: Side, limit: int = EXPLAIN_CASES) -> list[AnyCase]:
    """The side's cases with more or fewer instructions, the largest changes first, at most ``limit``."""
    changed = [(k, c) for k, c in side.counts.items() if c.verdict in (verdicts.MORE, verdicts.FEWER)]
    changed.sort(key=lambda item: (-abs(item[1].ratio - 1), item[0].id))
    return [k for k, _ in changed[:limit]]


def _explain_rows(rows: list[dict]) -> str:
    body = []
    for r in rows:
        name = r["function"]
        body.append(f'<tr><td class="fn" title="{_e(name)}">{_e(instruction_compare.short_name(name))}</td>'
                    f'<td class="num">{r["before"]:,.0f}</td><td class="num">{r["after"]:,.0f}</td>'
                    f'<td class="num {"up" if r["change"] > 0 else "down"}">{r["change"]:+,.0f}</td>'
                    f'<td class="num">{r["change_of_total"]:+.2%}</td></tr>')
    return ('<table class="explain"><thead><tr><th>function</th><th>A</th><th>B</th><th>change</th>'
            f'<th>of total</th></tr></thead><tbody>{"".join(body)}</tbody></table>')


def _explain_case(report: Report, side: Side, key: AnyCase) -> str:
    case_id = key.id
    try:
        before = instruction_compare.profiled_run(report.baseline.runs, case_id)
        after = instruction_compare.profiled_run(side.series.runs, case_id)
    except BadInput as error:
        return f'<p class="note">{_e(case_id)}: {_e(error)}</p>'
    if before is None or after is None:
        return ""
    (run_a, profile_a), (run_b, profile_b) = before, after
    result = instruction_compare.explain(profile_a, profile_b, top=EXPLAIN_TOP)
    a, b = result["before_per_call"], result["after_per_call"]
    verdict = side.counts[key].verdict
    ratio, change = f"{result['ratio']:.4f}", f"{b - a:+,.0f}"
    summary = (f'<span class="case">{_e(case_id)}</span>: {_e(f"{a:,.0f}")} → '
               f'{_e(f"{b:,.0f}")} instructions per call ({ratio}×, {change}; {_e(verdict)})')
    return (f'<details class="explain" data-case="{_e(case_id)}" data-series="{_e(side.series.label)}">'
            f'<summary>{summary}</summary>'
            f'<p>A = {_e(shown(run_a.path))} (torch {_e(run_a.torch_version)}), B = {_e(shown(run_b.path))} '
            f'(torch {_e(run_b.torch_version)}); per call, the median repeat of each run; change of total: the '
            'function\'s change over A\'s total.</p>'
            '<h4>Exclusive: instructions in the function itself</h4>' + _explain_rows(result["exclusive"])
            + '<h4>Inclusive: the function and what it calls</h4>' + _explain_rows(result["inclusive"])
            + '</details>')


def explain_section(report: Report) -> str:
    blocks = []
    for side in count_sides(report):
        cases = [html for html in (_explain_case(report, side, k) for k in explained_keys(side)) if html]
        if cases:
            blocks.append(f'<h3>{_e(side.series.label)} against {_e(report.baseline.label)}</h3>' + "".join(cases))
    if not blocks:
        return ""
    return ('<section id="explain"><h2>Where the instructions went</h2>'
            f'<p>For each case with more or fewer instructions (at most {EXPLAIN_CASES} per series, the largest '
            f'changes first) whose runs on both sides keep a callgrind profile: the {EXPLAIN_TOP} functions whose '
            'counts changed most, as <code>blitzbench report A B --explain CASE</code> prints them.</p>'
            + "".join(blocks) + "</section>")


# -- the verification table -----------------------------------------------------------------------

def _link(url: str | None, text: str | None = None) -> str:
    """An upstream link; a value that is not an http(s) address is shown as text."""
    if not url:
        return "no upstream issue yet"
    if url.startswith(("https://", "http://")):
        return f'<a href="{_e(url)}">{_e(text or url)}</a>'
    return _e(url)


def verification_section(verification: dict) -> str:
    releases = verification.get("releases") or []
    bugs = verification.get("known_bugs") or []
    upstream = {b.get("key"): b.get("upstream") for b in bugs}
    parts = ['<section id="verification"><h2>Verification: checks by torch release</h2>',
             '<p>bench/\'s checks on each release: passed, failed (errors included), failing by a known bug of the '
             'release (a strict expected failure), skipped.</p>']
    rows = []
    for r in releases:
        known = [f'{_e(key)} ({_link(upstream.get(key), "upstream")})' if upstream.get(key) else _e(key)
                 for key in r.get("known_bugs") or []]
        failed = int(r.get("failed") or 0)
        rows.append([_e(r.get("env", "?")), _e(r.get("torch", "?")), _e(r.get("torchvision") or "?"),
                     f'<span class="num">{_e(r.get("passed", 0))}</span>',
                     f'<span class="num{" bad" if failed else ""}">{_e(failed)}</span>',
                     f'<span class="num">{_e(r.get("known bug", 0))}</span>',
                     f'<span class="num">{_e(r.get("skipped", 0))}</span>',
                     "<br>".join(known) or "none"])
    parts.append(_table(["env", "torch", "torchvision", "passed", "failed", "known bug", "skipped", "known bugs"],
                        rows, "releases", raw=True))
    failures = verification.get("failures") or []
    if failures:
        parts.append(f"<h3>Failures ({len(failures)})</h3>")
        parts.append(_table(["env", "case", "what differed"],
                            [[f.get("env", "?"), f.get("case", "?"), f.get("what_differed", "")] for f in failures],
                            "failures"))
    else:
        parts.append('<p>No failure: every release passes every check it ran.</p>')
    parts.append(f"<h3>Known bugs ({len(bugs)})</h3>")
    if bugs:
        envs = [r.get("env") for r in releases]
        rows = []
        for b in bugs:
            by_env = b.get("cases_by_env") or {}
            affects = b.get("affects_envs") or []
            appears = ", ".join(f"{env} ({len(by_env[env])})" if env in by_env else f"{env} (not run)"
                                for env in envs if env in affects or env in by_env)
            rows.append([f'<code>{_e(b.get("key", "?"))}</code>', _e(b.get("package", "")), _e(b.get("title", "")),
                         _e(b.get("releases_text", "")), _e(appears), _link(b.get("upstream"))])
        parts.append(_table(["bug", "package", "what is wrong", "affects", "appears in (checks failing by it)",
                             "upstream"], rows, "known-bugs", raw=True))
    else:
        parts.append("<p>None of these releases has a known bug of torch or torchvision.</p>")
    areas = verification.get("areas") or []
    if areas:
        envs = [r.get("env") for r in releases]

        def cell(counts: dict) -> str:
            if not counts or not any(counts.values()):
                return "-"
            return " / ".join(str(counts.get(k, 0)) for k in ("passed", "failed", "skipped", "known bug"))

        rows = [[a.get("area", "?"), *[cell((a.get("cells") or {}).get(env, {})) for env in envs]] for a in areas]
        parts.append(f'<details class="areas"><summary>Checks by area ({len(areas)} areas): passed / failed / '
                     'skipped / known bug</summary>'
                     + _table(["area", *[str(env) for env in envs]], rows, "areas") + "</details>")
    parts.append("</section>")
    return "".join(parts)


# -- the page -----------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       font-size: 14px; line-height: 1.45; color: #1a1a1a; background: #fff; margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 22px; margin: 8px 0 12px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
h4 { font-size: 13px; margin: 10px 0 4px; color: #444; }
p { margin: 6px 0; max-width: 1100px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
.warning { background: #fff4e5; border-left: 4px solid #e08a00; padding: 8px 12px; }
.note, .notes { color: #444; font-size: 13px; }
.none { color: #666; font-style: italic; }
.scroll { overflow-x: auto; max-width: 100%; border: 1px solid #eee; padding: 4px; }
svg text { font-family: inherit; }
svg text.col, svg text.row { fill: #222; }
svg text.gm-name { font-weight: 600; }
svg text.val { pointer-events: none; }
svg rect.hatch { pointer-events: none; }
svg rect.cell:hover, svg rect.gm:hover { stroke: #000; stroke-width: 1.5; }
.legend { display: block; margin: 6px 0 4px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num, span.num { font-variant-numeric: tabular-nums; }
td.num { text-align: right; white-space: nowrap; }
td.up { color: #b2182b; } td.down { color: #2166ac; }
.bad { color: #b2182b; font-weight: 600; }
td.fn { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all;
        max-width: 760px; }
table.known-bugs td:nth-child(3) { max-width: 520px; }
details { margin: 6px 0; border: 1px solid #e4e4e4; border-radius: 4px; padding: 4px 10px; }
details[open] { background: #fcfcfc; }
summary { cursor: pointer; }
summary .case { font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 600; }
"""


def render_page(report: Report, verification: dict | None) -> str:
    sections = [header_section(report), time_section(report) if report.sides else "", count_section(report),
                summary_section(report), explain_section(report)]
    if verification is not None:
        sections.append(verification_section(verification))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Comparison of saved runs: {_e(len(report.series))} series against {_e(report.baseline.label)}"
            f"</title><style>{STYLE}</style></head><body><main><h1>Comparison of saved runs</h1>"
            + "\n".join(s for s in sections if s) + "</main></body></html>\n")


def write_page(path: Path, report: Report, verification: dict | None) -> None:
    """The page, written whole or not at all."""
    write_atomic(Path(path), render_page(report, verification))
