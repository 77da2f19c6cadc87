"""Is this torch release correct? The verification suite's results across releases, as one table.

    blitzbench matrix ENV,ENV[,...] --verify   run the suite in each tox environment, then this table
    blitzbench verification [DIR]             the table again from what is saved under DIR, printed
    blitzbench verification [DIR] --save      ... and saved as DIR/verification.md and .json

Each environment's run of the verification of torch (:data:`SUITE`: bench/'s checks, each
benchmark run once untimed; the harness's own tests/ with ``--harness-tests``) is kept as pytest's
JUnit XML, ``DIR/<env>/verification.xml`` (default DIR: results/tox in the current folder), with the release's versions
as the XML's testsuite properties (the plugin records them). From those files: one row per area
(a test file of bench/; tests/ as one row), one column per release, cells "passed / failed /
skipped / known bug"; the releases with the known bugs of torch and torchvision each has
(blitzbench.known_bugs: the checks that show one are strict expected failures there), and a line
per known bug saying in which releases it appears and by which checks; every failure with its
case id, release and the one line that says what differed, and the decision recorded for it in
:data:`KNOWN_DIFFERENCES` (a difference of the release, named with the release where it changed),
or a check passing where a known bug should fail it, or "not explained"; then the skip reasons
that some releases have and others do not. The matrix saves it as ``DIR/verification.md`` and
``.json``; this command only prints it, and saves it with ``--save`` (each file written whole or
not at all; never over a saved benchmark run or a folder). Exit status 1 when a release fails a
check, 2 on bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

from blitzbench.analysis import verification
from blitzbench.cli.args import BadInput, OneLineParser, check_outputs, shown

PROG = "blitzbench verification"


def check_table_paths(folder: Path, option: str) -> None:
    """BadInput (one line) unless blitzbench.analysis.verification.save can write into ``folder``
    without losing anything: neither file may be a folder, a saved benchmark run or one of the runs
    read."""
    inputs = sorted(Path(folder).glob(f"*/{verification.RESULT_FILE}"))
    for path in verification.table_paths(folder):
        check_outputs({option: path}, inputs=inputs, suffixes={option: (path.suffix,)})


def main(argv=None) -> int:
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("folder", nargs="?", type=Path, default=verification.DEFAULT_FOLDER, metavar="DIR",
                   help="folder holding <env>/verification.xml (default: results/tox, in the current folder)")
    p.add_argument("--envs", default=None, metavar="ENV,ENV",
                   help="only these environments (default: every one with a saved run under DIR)")
    p.add_argument("--save", action="store_true",
                   help="also write the table of every environment to DIR/verification.md and .json "
                        "(without it, nothing is written)")
    args = p.parse_args(argv)
    try:
        envs = [e.strip() for e in args.envs.split(",") if e.strip()] if args.envs is not None else None
        if args.save and envs is not None:
            raise BadInput("--save keeps the table of every environment under DIR; accepted: --save without --envs, "
                           "or --envs without --save")
        if args.save:
            check_table_paths(args.folder, "--save")
        table = verification.build(verification.load_runs(args.folder, envs))
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(verification.render(table, fmt="simple"))
    if args.save:
        md, js = verification.save(table, args.folder)
        print(f"\nsaved: {shown(md)} and {shown(js)}")
    failing = verification.failing_lines(table)
    return 1 if failing else 0
