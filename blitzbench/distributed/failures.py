"""A failed distributed run: the error file each failing rank leaves, and which rank's failure ended
the run (blitzbench.distributed.launcher names it in the RunFailed it raises)."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path


def record(error_dir: Path, rank: int, error: BaseException) -> None:
    """Leave ``rank``'s error in ``error_dir``/rank<N>.error: the time it was caught (time.time_ns,
    since the file's modification time ticks too coarsely to order two ranks), then the error."""
    failed_at = time.time_ns()
    (Path(error_dir) / f"rank{rank}.error").write_text(f"{failed_at}\n{type(error).__name__}: {error}")


def failure_message(output: str, error_dir: Path, status: int) -> str:
    """Name the rank whose failure ended the run.

    torchrun lists every failed rank with its exit code. A rank that died without writing its
    error file (it exited, or was killed) is the cause: the others' errors ("connection closed
    by peer") follow from it; but not one that SIGTERM ended (exit code -15), which is how
    torchrun stops the others once one has failed, before they may have noticed. Otherwise the
    earliest failure is the first: each error file starts with the time its rank caught the error
    (time.time_ns; the others' errors come only after the failed rank's process has closed its
    connections). File modification times do not order them: the kernel stamps files with a clock
    that ticks every few milliseconds, and two ranks' files written within one tick tie.
    """
    failed = {int(r): int(c) for r, c in re.findall(r"rank\s*:\s*(\d+) \(local_rank: \d+\)\s*\n\s*exitcode\s*:\s*(-?\d+)",
                                                  output)}
    errors = {int(p.stem[4:]): p for p in error_dir.glob("rank*.error")}
    silent = sorted(r for r in failed if r not in errors)
    if errors:  # a rank torchrun stopped (SIGTERM) without its error file is not why the run ended
        silent = [r for r in silent if failed[r] != -signal.SIGTERM]
    if silent:
        rank = silent[0]
        return (f"rank {rank} exited with code {failed[rank]} without raising; torchrun stopped the others "
                f"(exit status {status})")
    if errors:
        caught = {r: read_error_file(path) for r, path in errors.items()}
        rank = min(caught, key=lambda r: (caught[r][0], r))
        return f"rank {rank} failed: {caught[rank][1]}; torchrun stopped the others (exit status {status})"
    tail = " | ".join(output.strip().splitlines()[-3:])
    return f"torchrun exited with status {status}: {tail}"


def read_error_file(path: Path) -> tuple[int, str]:
    """(when the rank caught its error, in ns, the error): the file's first line, then the rest."""
    stamp, _, message = path.read_text().partition("\n")
    try:
        return int(stamp), message.strip()
    except ValueError:  # not written by record: order it by its modification time
        return path.stat().st_mtime_ns, path.read_text().strip()
