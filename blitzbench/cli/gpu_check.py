"""``blitzbench gpu-check``: what a machine with an NVIDIA GPU is checked by, in one command of
10 minutes at most (docs/gpu.md).

Steps, in order of what they prove (:data:`STEPS`):

1. lenet's training step at batch 64 and 4096 in all four modes (the GPU targets of docs/gpu.md);
2. the fidelity cross-check of two CUDA cases against CUDA-event timing, each measurement in
   its own process;
3. the verification suite's CUDA cases (every execution mode checked against eager);
4. the quick benchmark set on CPU and CUDA in eager and cudagraph modes (for the CUDA / CPU
   column), less the tutorial loop to 95% (its DataLoader is host work: 3 seeds of about 25 s
   on the H100 host's CPU and 7.5 s on its GPU in the committed H100 record);
5. the GPU targets, read from what the steps before saved.

All run under one budget (:data:`BUDGET_S`): a step may run until the budget's end less the
seconds reserved for the steps after it (each step's ``reserve_s``: what it is sure to get), so
time a step leaves unused goes to the next. A step stopped at its limit is named in the log and
fails the check; every step's time and exit status are logged. Before the steps: wheels found
in ``.whl/`` (``make gpu-wheels``, for machines with no package registry) are installed into
:data:`SITE` for the run, and the preflight checks that every module the suite imports can be
found and that torch sees a CUDA device. Writes the runs' JSON and Markdown, fidelity.json,
nvidia-smi.csv and gpu-check.log into ``--out`` (default: the folder in the OUT environment variable
when set, else ``results/gpu-check_<GPU name>/`` in the current folder): seven files. That folder
must be new or empty, so that an earlier check's results are never overwritten (checked before
anything runs). Exit status 0 when every step passed, 1 when one failed, 2 on bad input.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from blitzbench.cli.args import BadInput, OneLineParser, check_output_folder, positive_int
from blitzbench.gpu import check
from blitzbench.gpu.preflight import problem

PROG = check.PROG


def chosen_out(out: Path | None) -> tuple[Path | None, str]:
    """The folder asked for (--out, else $OUT; None: the default, named after the GPU) and the
    option that named it."""
    if out is not None:
        return out, "--out"
    if os.environ.get("OUT"):
        return Path(os.environ["OUT"]), "OUT"
    return None, "--out"


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="a new or empty folder for the results (default: the folder in the OUT environment variable "
                        "when set, else results/gpu-check_<GPU name>/ in the current folder)")
    p.add_argument("--budget", type=positive_int, default=check.BUDGET_S, metavar="S",
                   help=f"seconds for all the steps together (default: {check.BUDGET_S})")
    args = p.parse_args(argv)
    reserved = sum(step.reserve_s for step in check.STEPS)
    if args.budget <= reserved:
        p.error(f"--budget {args.budget}: the steps reserve {reserved} s; accepted: more than {reserved}")
    out, option = chosen_out(args.out)
    try:
        if out is not None:
            check_output_folder(option, out, empty=True)
    except BadInput as error:
        p.error(str(error))
    failed = check.install_wheels(sys.executable)
    if failed:
        print(failed, file=sys.stderr)
        return 2
    env = check.steps_environment()
    line = problem(list(check.MODULES))
    if line:
        print(line, file=sys.stderr)
        return 2
    if out is None:
        out = Path("results") / check.gpu_folder_name()
        try:
            check_output_folder(option, out, empty=True)
        except BadInput as error:
            p.error(str(error))
    out = out.resolve()  # the steps run in the suite's checkout
    out.mkdir(parents=True, exist_ok=True)
    check.save_gpu_record(out)
    return check.run_steps(out, sys.executable, args.budget, env, header=check.header())
