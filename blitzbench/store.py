"""Saving benchmark runs: one pytest-benchmark JSON file per run, written atomically.

File names carry when the run started, the torch version and the devices that ran, e.g.
``20261127-163012_torch-2.14.1_cu130_cpu.json``; the end-of-run table is saved beside it with
the same stem and ``.md``. Files are written to a temporary name in the same folder and
renamed, so an interrupted run leaves no half-written file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path


def run_stem(started: datetime, torch_version: str, devices) -> str:
    version = re.sub(r"[^A-Za-z0-9._-]", "_", torch_version)  # "+" -> "_": portable names
    return f"{started:%Y%m%d-%H%M%S}_torch-{version}_{'-'.join(devices) or 'none'}"


def write_atomic(path: Path, text: str | bytes) -> Path:
    """Write ``text`` (or bytes) to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        with (os.fdopen(fd, "wb") if isinstance(text, bytes) else os.fdopen(fd, "w", encoding="utf-8")) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def save_run(output_json: dict, results_dir: Path, stem: str) -> Path:
    """Save a run in pytest-benchmark's JSON format as ``results_dir/stem.json``."""
    text = json.dumps(output_json, indent=2, ensure_ascii=True, default=str)
    return write_atomic(Path(results_dir) / f"{stem}.json", text + "\n")
