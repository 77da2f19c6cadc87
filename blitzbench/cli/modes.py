"""``blitzbench modes CASE [CASE ...]``: does a case's execution mode compute what eager does?

    blitzbench modes lenet-cpu-bs1024-train_step-compiled chapter_net-cpu-bs64-train_step-compiled

For each case (its training step, whatever phase the id names), 3 training steps in the case's
mode and 3 eager steps from the same seed, TF32 off, are compared by what they did to each
parameter: max |update in the mode - eager's update| / max |eager's update|, per tensor. Accepted
is the dtype's share (1e-3 for float32; under autocast 0.1 for bfloat16, 0.02 for float16), plus
float32's rounding of the parameter over the steps, plus twice how far eager's own update moves
when its weights move by one float32 rounding (eager's own spread). One row per case: the tensor
nearest its tolerance, the error, the tolerance, eager's own spread, error / tolerance, and
whether it passes. Exit status 1 when a case fails, 2 on bad input (an eager case, a mode the
case does not support, a device this machine lacks).
"""

from __future__ import annotations

import dataclasses
import sys

from blitzbench.cases import ID_FORM, Case
from blitzbench.cli.args import OneLineParser

PROG = "blitzbench modes"


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("cases", nargs="+", metavar="CASE",
                   help=f"case ids in a mode other than eager, of the form {ID_FORM.split(',')[0]}, such as "
                        "lenet-cpu-bs1024-train_step-compiled")
    texts = p.parse_args(argv).cases
    try:
        cases = [Case.parse(t) for t in texts]
        for case in cases:
            if case.mode == "eager":
                raise ValueError(f"case {case.id}: eager is the reference; accepted: a case in another mode")
        from blitzbench.measure.devices import unavailable_reason  # torch: only once the input is read

        for case in cases:
            if reason := case.unsupported_reason() or unavailable_reason(case.device):
                raise ValueError(f"case {case.id}: {reason}")
    except ValueError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    from tabulate import tabulate

    from blitzbench.measure.mode_check import compare

    rows, failed = [], 0
    for case in cases:
        c = compare(dataclasses.replace(case, phase="train_step"))
        failed += not c.ok
        rows.append([case.id, c.parameter, f"{c.error:.2e}", f"{c.tolerance:.2e}", f"{c.eager_spread:.2e}",
                     f"{c.error / c.tolerance:.2f}", "yes" if c.ok else "NO"])
    print(tabulate(rows, headers=["case (its train_step)", "nearest tensor", "error", "tolerance", "eager's own spread",
                                  "error / tolerance", "passes"], disable_numparse=True))
    return 1 if failed else 0
