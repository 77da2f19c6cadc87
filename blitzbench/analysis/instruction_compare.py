"""Instruction counts compared between series (blitzbench.analysis.comparison), and where they went (``--explain``).

A case's instructions per call (blitzbench.measure.instructions) do not drift between runs the way its time
does: two counted runs of one release agree to within about 0.1-0.3%. So one run per series
decides: the ratio is (series' instructions per call) / (baseline's), the median over a series'
runs where it has several, and the verdict (blitzbench.analysis.verdicts.count_verdict) is
``more`` or ``fewer`` when the ratio lies beyond ``--min-change-instructions`` (default 1%),
``same`` otherwise. Where a series has several runs,
their spread ((max - min) / median) is shown, so a reader can see that a count did not drift.

Counts are not time: cache misses, SIMD width (valgrind hides AVX-512), memory bandwidth and time
spent in the kernel do not show in them, so the time verdict stays beside this one, never
replaced by it. Torch-free.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from statistics import geometric_mean

from blitzbench.messages import BadInput, shown
from blitzbench.measure.instructions import load_profiles, profile_path_for
from blitzbench.analysis.saved_runs import Run, Series
from blitzbench.analysis.verdicts import count_verdict
from blitzbench.kinds import AnyCase

DEFAULT_MIN_CHANGE_PCT = 1.0


@dataclass(frozen=True)
class CountComparison:
    ratio: float  # series' instructions per call / baseline's (> 1: more instructions)
    verdict: str  # more, fewer, same
    base_per_call: float
    per_call: float


@dataclass(frozen=True)
class SeriesCount:
    """A series' count of one case: the median over its runs, and their spread across runs."""

    per_call: float
    runs: int
    spread_across_runs: float | None  # None with one run


def check_one_setting(runs) -> str | None:
    """The ``--counting-isa`` setting all counted runs among ``runs`` were made under (None when
    none counted); BadInput when they differ: counts of different kernels are not compared."""
    by_setting: dict[str, list[str]] = {}
    for run in runs:
        if run.instructions:
            by_setting.setdefault(run.counting_isa, []).append(shown(run.path))
    if len(by_setting) > 1:
        found = "; ".join(f"{setting}: {', '.join(paths[:2])}{f' and {len(paths) - 2} more' if len(paths) > 2 else ''}"
                          for setting, paths in sorted(by_setting.items()))
        raise BadInput(f"counts made under different --counting-isa settings are not compared ({found}); accepted: "
                       f"a baseline and series counted under one setting (count again with --counting-isa, or name "
                       f"one setting's runs)")
    return next(iter(by_setting), None)


def series_count(series: Series, key: AnyCase) -> SeriesCount | None:
    counts = [r.instructions[key].per_call for r in series.runs if key in r.instructions]
    if not counts:
        return None
    median = statistics.median(counts)
    spread = (max(counts) - min(counts)) / median if len(counts) > 1 else None
    return SeriesCount(median, len(counts), spread)


def compare_counts(base: Series, other: Series, keys, min_change: float) -> dict[AnyCase, CountComparison]:
    out = {}
    for key in keys:
        b, o = series_count(base, key), series_count(other, key)
        if b is None or o is None:
            continue
        ratio = o.per_call / b.per_call
        out[key] = CountComparison(ratio, count_verdict(ratio, min_change), b.per_call, o.per_call)
    return out


@dataclass(frozen=True)
class CountSummary:
    ratio: float | None
    verdict: str
    cases: int
    counts: dict


def summarize_counts(comparisons: dict[AnyCase, CountComparison], min_change: float) -> CountSummary:
    """The geometric mean of a series' count ratios, with the verdict of that mean."""
    counts = {v: sum(c.verdict == v for c in comparisons.values()) for v in ("more", "fewer", "same")}
    if not comparisons:
        return CountSummary(None, "not counted", 0, counts)
    ratio = geometric_mean([c.ratio for c in comparisons.values()])
    return CountSummary(ratio, count_verdict(ratio, min_change), len(comparisons), counts)


# -- --explain: where the instructions went ---------------------------------------------------------

@dataclass(frozen=True)
class FunctionChange:
    name: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


def case_profile(run: Run, case_id: str) -> dict | None:
    """The run's callgrind profile of ``case_id`` ({"instructions_per_call", "functions"}), or None."""
    path = profile_path_for(run.path)
    if not path.exists():
        return None
    try:
        data = load_profiles(path)
    except (OSError, ValueError, EOFError) as error:
        raise BadInput(f"{path}: cannot be read as a callgrind profile ({error})") from None
    return (data.get("cases") or {}).get(case_id)


def function_changes(before: dict, after: dict, column: int) -> list[FunctionChange]:
    """Per function, its count per call in both profiles (0 where absent), largest change first.
    ``column``: 0 exclusive, 1 inclusive."""
    names = set(before["functions"]) | set(after["functions"])
    changes = [FunctionChange(name, before["functions"].get(name, [0, 0])[column],
                              after["functions"].get(name, [0, 0])[column]) for name in names]
    changes.sort(key=lambda c: (-abs(c.change), c.name))
    return changes


def explain(before: dict, after: dict, top: int = 15) -> dict:
    """The functions whose counts changed most, exclusive and inclusive, as a dict of rows."""
    total_before, total_after = before["instructions_per_call"], after["instructions_per_call"]
    result = {"before_per_call": total_before, "after_per_call": total_after,
              "ratio": total_after / total_before if total_before else math.nan}
    for label, column in (("exclusive", 0), ("inclusive", 1)):
        rows = []
        changed = [c for c in function_changes(before, after, column) if abs(c.change) >= 0.5]
        for c in changed[:top]:
            rows.append({"function": c.name, "before": c.before, "after": c.after, "change": c.change,
                         "change_of_total": c.change / total_before if total_before else math.nan,
                         "change_of_function": c.change / c.before if c.before else None})
        result[label] = rows
    return result


def profiled_run(runs: list[Run], case_id: str) -> tuple[Run, dict] | None:
    """The newest of ``runs`` with a callgrind profile of ``case_id``, and that profile."""
    for run in sorted(runs, key=lambda r: r.datetime, reverse=True):
        profile = case_profile(run, case_id)
        if profile is not None:
            return run, profile
    return None


def profiled_cases(runs: list[Run]) -> list[str]:
    names = set()
    for run in runs:
        path = profile_path_for(run.path)
        if path.exists():
            try:
                names |= set((load_profiles(path).get("cases") or {}))
            except (OSError, ValueError, EOFError):
                continue
    return sorted(names)


NAME_WIDTH = 56  # with the five figures, a row fits 120 columns


def _without_arguments(name: str) -> str:
    """A C++ name with its argument list shown as (…): ``f(int, at::Tensor&) const`` -> ``f(…) const``."""
    body, const = (name[:-6], " const") if name.endswith(" const") else (name, "")
    if not body.endswith(")"):
        return name
    depth = 0
    for i in range(len(body) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(body[i], 0)
        if depth == 0:
            return f"{body[:i]}(…){const}" if i < len(body) - 2 else name
    return name


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """A long C++ name fitted to the table (the JSON keeps it whole): its arguments as (…), then,
    if still too long, cut in the middle."""
    if len(name) <= width:
        return name
    name = _without_arguments(name)
    if len(name) <= width:
        return name
    head = width * 2 // 3
    return f"{name[:head]}…{name[-(width - head - 1):]}"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def render_explain(case_id: str, before_label: str, after_label: str, result: dict, fmt: str) -> str:
    from tabulate import tabulate

    b, a = result["before_per_call"], result["after_per_call"]
    import textwrap

    head = [f"{case_id}: {_count(b)} -> {_count(a)} instructions per call ({a / b:.4f}x, {a - b:+,.0f})",
            f"A = {before_label}", f"B = {after_label}",
            "per call, the median repeat of each run; function names are object:function "
            "(install paths left out, long ones cut in the middle; --json keeps them whole); change of total: the "
            "function's change over A's total"]
    lines = [part for line in head for part in textwrap.wrap(line, 120, subsequent_indent="  ",
                                                              break_on_hyphens=False)]
    for label, title in (("exclusive", "exclusive (instructions in the function itself)"),
                         ("inclusive", "inclusive (the function and what it calls; recursion counted once)")):
        rows = [[short_name(r["function"]), _count(r["before"]), _count(r["after"]), f"{r['change']:+,.0f}",
                 f"{r['change_of_total']:+.2%}",
                 "new" if r["change_of_function"] is None else f"{r['change_of_function']:+.1%}"]
                for r in result[label]]
        lines += ["", f"largest changes, {title}:",
                  tabulate(rows, headers=["function", "A", "B", "change", "of total", "of function"],
                           tablefmt=fmt, disable_numparse=True)]
    return "\n".join(lines)
