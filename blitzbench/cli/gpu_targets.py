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

import sys
from pathlib import Path

from blitzbench.cli.args import BadInput, OneLineParser
from blitzbench.gpu import targets

PROG = "blitzbench gpu-targets"


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("folder", type=Path, metavar="DIR",
                   help="the folder blitzbench gpu-check wrote (its --out: $OUT, or results/gpu-check_<GPU name>/)")
    folder = p.parse_args(argv).folder
    try:
        print(targets.report(folder))
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    return 0
