"""Parsing of the suite's command-line options (registered by blitzbench.plugin.suite).

Each parser takes the option's text and returns the parsed value, or raises ValueError with a
one-line message that says what was wrong and what is accepted; blitzbench.plugin.suite turns that into a
pytest usage error.
"""

from __future__ import annotations

from pathlib import Path

from blitzbench.cases import DEVICES
from blitzbench.values import whole_number

KNOWN_DEVICES = DEVICES  # the devices a case can name (blitzbench.cases)
VERIFICATION_BATCH_SIZES = (1, 4, 64)
BENCHMARK_BATCH_SIZES = (1, 4, 64, 256, 1024)
# Added on CUDA: up to 1024 these nets leave an H100 idle (a training step costs about the same
# 2 ms of kernel launches at every batch from 64 to 1024); from 4096 up the GPU is busy.
CUDA_EXTRA_BATCH_SIZES = (4096, 16384)
QUICK_BATCH_SIZES = (4, 64)


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_choices(text: str, option: str, accepted) -> tuple[str, ...]:
    """'a,b' -> ('a', 'b'), each one of ``accepted`` (case-insensitive), no repeats, at least one."""
    listed = ", ".join(accepted)
    items = [item.lower() for item in _items(text)]
    if not items:
        raise ValueError(f"{option} needs a comma-separated list; accepted: {listed}")
    unknown = [item for item in items if item not in accepted]
    if unknown:
        raise ValueError(f"{option}: unknown value {unknown[0]!r}; accepted: {listed} (comma-separated)")
    return tuple(dict.fromkeys(items))


def parse_devices(text: str) -> tuple[str, ...]:
    """'cpu,cuda' -> ('cpu', 'cuda')."""
    return parse_choices(text, "--device", KNOWN_DEVICES)


def default_benchmark_batch_sizes(device: str, quick: bool) -> tuple[int, ...]:
    """The benchmark batch sizes for ``device`` when --batch-sizes is not given."""
    if quick:
        return QUICK_BATCH_SIZES
    return BENCHMARK_BATCH_SIZES + (CUDA_EXTRA_BATCH_SIZES if device == "cuda" else ())


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """'1,4,64' -> (1, 4, 64); positive integers (blitzbench.values.whole_number), no repeats, at
    least one."""
    items = _items(text)
    if not items:
        raise ValueError("--batch-sizes needs a comma-separated list of positive integers, such as 1,4,64")
    try:
        sizes = [whole_number(item, least=1) for item in items]
    except ValueError as error:
        raise ValueError(f"--batch-sizes: {error} (comma-separated, such as 1,4,64)") from None
    return tuple(dict.fromkeys(sizes))


def parse_matrix_record(series: str | None, round_text: str | None, matrix_id: str | None) -> dict | None:
    """--series NAME --round N --matrix-id ID -> {"series", "round", "matrix"}; None without --series."""
    if series is None:
        if round_text is not None or matrix_id is not None:
            raise ValueError("--round and --matrix-id need --series NAME (blitzbench matrix sets all three)")
        return None
    if not series.strip():
        raise ValueError("--series needs a name, such as torch214")
    if round_text is None:
        raise ValueError("--series needs --round N; accepted: a positive integer (blitzbench matrix sets both)")
    try:
        round_number = whole_number(round_text, least=1)
    except ValueError as error:
        raise ValueError(f"--round: {error}") from None
    return {"series": series.strip(), "round": round_number, "matrix": matrix_id}


def parse_results_dir(text: str) -> Path:
    """A folder to save runs in: it may not exist yet, but must not be a file."""
    if not text.strip():
        raise ValueError("--results-dir needs a folder path")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"--results-dir: {text!r} is a file; accepted: a folder (created if missing)")
    return path
