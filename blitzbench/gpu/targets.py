"""The GPU targets (docs/gpu.md), read from what ``blitzbench gpu-check`` saved: met, missed, or not measured.

    blitzbench gpu-targets DIR

DIR holds the runs (pytest-benchmark JSON) and ``fidelity.json`` that ``blitzbench gpu-check`` wrote.
The targets (set for one H100; the suite's own figures, so a run on another GPU is
judged against the same numbers and says which GPU it was):

  lenet train_step, batch 64, cudagraph     at least 200,000 images/s
  lenet train_step, batch 4096, eager       at least 1,450,000 images/s
  every CUDA cudagraph case                 IQR / median at most 3%
  every CUDA case of the fidelity check     |suite / independent - 1| at most 5% (median ratio)

Each measurement found is a row of its own (a case timed in two runs is judged twice); a target
with nothing to judge says so. The exit status is 0 whether targets are met or missed (a missed
target is a finding to report, not a broken check); 2 on bad input (no such folder, no runs).
It only reads: nothing is written. Torch-free.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from blitzbench.cases import Case
from blitzbench.cli.args import BadInput, OneLineParser
from blitzbench.figures import iqr_over_median
from blitzbench.analysis.saved_runs import Run, collect


@dataclass(frozen=True)
class RateTarget:
    case: Case
    at_least: float  # samples/s

    @property
    def name(self) -> str:
        return f"{self.case.model} {self.case.phase}, batch {self.case.batch_size}, {self.case.mode}"


RATE_TARGETS = (
    RateTarget(Case("lenet", "cuda", 64, "train_step", mode="cudagraph"), 200_000),
    RateTarget(Case("lenet", "cuda", 4096, "train_step", mode="eager"), 1_450_000),
)
MAX_CUDAGRAPH_NOISE = 0.03  # IQR / median
MAX_FIDELITY_ERROR = 0.05  # |median ratio - 1|
HEADERS = ["target", "run", "measured", "required", "verdict"]


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rate_rows(runs: list[Run]) -> list[list[str]]:
    rows = []
    for target in RATE_TARGETS:
        found = [(run, run.cases[target.case.key]) for run in runs if target.case.key in run.cases]
        for run, stats in found:
            rows.append([target.name, run.path.name, f"{stats.rate:,.0f} images/s", f">= {target.at_least:,.0f}",
                         _verdict(stats.rate >= target.at_least)])
        if not found:
            rows.append([target.name, "-", "not measured", f">= {target.at_least:,.0f}", "not measured"])
    return rows


def noise_rows(runs: list[Run]) -> list[list[str]]:
    """The noisiest CUDA cudagraph case of each run (the target holds for every such case)."""
    rows = []
    for run in runs:
        cases = [(Case.from_key(key), stats) for key, stats in run.cases.items() if key[0] == "throughput"]
        graphed = [(case, stats) for case, stats in cases if case.device == "cuda" and case.mode == "cudagraph"]
        if not graphed:
            continue
        case, stats = max(graphed, key=lambda item: iqr_over_median(item[1].q3_s - item[1].q1_s, item[1].median_s))
        worst = iqr_over_median(stats.q3_s - stats.q1_s, stats.median_s)
        rows.append([f"cudagraph noise, worst of {len(graphed)} cases ({case.id})", run.path.name,
                     f"IQR/median {worst:.1%}", f"<= {MAX_CUDAGRAPH_NOISE:.0%}", _verdict(worst <= MAX_CUDAGRAPH_NOISE)])
    if not rows:
        rows.append(["cudagraph noise", "-", "no cudagraph case", f"<= {MAX_CUDAGRAPH_NOISE:.0%}", "not measured"])
    return rows


def fidelity_rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        return [["CUDA fidelity", "-", f"no {path.name}", f"within {MAX_FIDELITY_ERROR:.0%}", "not measured"]]
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        cases = [c for c in record["cases"] if "-cuda-" in c["case"]]
        errors = [(c["case"], float(c["median_ratio"])) for c in cases]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise BadInput(f"{path}: not a fidelity record of blitzbench fidelity ({error})") from None
    if not errors:
        return [["CUDA fidelity", path.name, "no CUDA case", f"within {MAX_FIDELITY_ERROR:.0%}", "not measured"]]
    return [[f"CUDA fidelity ({case})", path.name, f"median ratio {ratio:.3f}", f"within {MAX_FIDELITY_ERROR:.0%}",
             _verdict(abs(ratio - 1) <= MAX_FIDELITY_ERROR)] for case, ratio in errors]


def gpus(runs: list[Run]) -> list[str]:
    return sorted({str(run.machine_info.get("gpu_name")) for run in runs if run.machine_info.get("gpu_name")})


def report(folder: Path) -> str:
    if not folder.is_dir():
        raise BadInput(f"{folder}: no such folder; accepted: the folder blitzbench gpu-check wrote (its $OUT, or results/gpu-check_<GPU>/)")
    runs, _ = collect([folder])
    from tabulate import tabulate

    rows = rate_rows(runs) + noise_rows(runs) + fidelity_rows(folder / "fidelity.json")
    missed = sum(row[-1] == "MISSED" for row in rows)
    unmeasured = sum(row[-1] == "not measured" for row in rows)
    summary = (f"GPU targets (set for one H100): {len(rows) - missed - unmeasured} met, {missed} missed, "
               f"{unmeasured} not measured; GPU: {', '.join(gpus(runs)) or 'not recorded'}")
    return tabulate(rows, headers=HEADERS, disable_numparse=True) + "\n" + summary


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="blitzbench gpu-targets", description=__doc__)
    p.add_argument("folder", type=Path, metavar="DIR",
                   help="the folder blitzbench gpu-check wrote (its --out: $OUT, or results/gpu-check_<GPU name>/)")
    folder = p.parse_args(argv).folder
    try:
        print(report(folder))
    except BadInput as error:
        print(f"blitzbench gpu-targets: error: {error}", file=sys.stderr)
        return 2
    return 0
