"""``blitzbench``: one command, a subcommand per tool; each parses its own options the same way
(blitzbench.cli.args.OneLineParser: bad input is one line and exit status 2).

    blitzbench --help              the subcommands
    blitzbench SUBCOMMAND --help   one subcommand's options

A subcommand's module is imported only when it runs, and imports torch only once its options are
read: every ``--help``, and every value of the wrong form, answers without torch; the torch-free subcommands
(report, matrix, verification, gpu-targets) work where torch is not installed (tox -e report).
"""

from __future__ import annotations

import importlib
import sys

PROG = "blitzbench"
# name: (module whose main(argv) runs it, what it does)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "report": ("blitzbench.cli.report", "compare saved benchmark runs side by side (times and instruction counts)"),
    "matrix": ("blitzbench.cli.matrix", "run tox environments in interleaved rounds; --verify: the checks in each"),
    "compare": ("blitzbench.cli.compare", "both answers for two or more releases: checks, counts, optional timed rounds"),
    "verification": ("blitzbench.cli.verification", "the table of checks by torch release, from saved results"),
    "train": ("blitzbench.cli.train", "the chapter's image classifier, trained on real images (section 8)"),
    "modes": ("blitzbench.cli.modes", "check cases in an execution mode against eager, with the tolerances"),
    "fidelity": ("blitzbench.cli.fidelity", "the suite's median against an independent timing of the same work"),
    "distributed": ("blitzbench.cli.distributed", "the training step under DistributedDataParallel, through torchrun"),
    "gpu-check": ("blitzbench.cli.gpu_check", "on a machine with an NVIDIA GPU: the targets, fidelity, CUDA checks, quick set"),
    "gpu-targets": ("blitzbench.cli.gpu_targets", "the GPU targets, from what gpu-check saved: met, missed, not measured"),
}


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = [f"usage: {PROG} SUBCOMMAND [OPTIONS]   ({PROG} SUBCOMMAND --help for its options)", "",
             "Verification and benchmarks of PyTorch's fundamentals; the suite itself runs under pytest",
             "(pytest bench --benchmark-only; pytest bench tests --benchmark-disable).", "", "subcommands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"{PROG}: error: unknown subcommand {name!r}; accepted: {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return module.main(rest)
