"""The GPU targets (docs/gpu.md), read from what ``blitzbench gpu-check`` saved: met, missed, or not
measured. :func:`report` is the table ``blitzbench gpu-targets DIR`` prints (blitzbench.cli.gpu_targets),
where the targets are listed. Torch-free; it only reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from blitzbench.cases import Case
from blitzbench.messages import BadInput
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
        found = [(run, run.cases[target.case]) for run in runs if target.case in run.cases]
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
        graphed = [(case, stats) for case, stats in run.cases.items()
                   if isinstance(case, Case) and case.device == "cuda" and case.mode == "cudagraph"
                   and stats.noise is not None]
        if not graphed:
            continue
        case, stats = max(graphed, key=lambda item: item[1].noise)
        worst = stats.noise
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
