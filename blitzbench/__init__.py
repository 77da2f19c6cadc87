"""blitzbench: the harness of the suite that verifies and benchmarks PyTorch's fundamentals.

    blitzbench.cases      a benchmark case's identity (fields, id, order; the case is its own key)
    blitzbench.store      saving runs, their schema version, upgrading older runs as they are read
    blitzbench.measure    building, checking and timing cases (needs torch)
    blitzbench.analysis   saved runs, statistics, comparisons and tables (torch-free)
    blitzbench.plugin     the pytest plugin: options, parametrization, saving, the end-of-run table
    blitzbench.cli        the blitzbench command, a module per subcommand (nothing below it imports it)
    blitzbench.gpu        the GPU check, its preflight and its targets
    blitzbench.matrix     tox environments run in interleaved rounds, or once each for --verify
    blitzbench.distributed  the training step under DistributedDataParallel: launcher, worker, failures
    blitzbench.messages   one-line errors (BadInput, RunFailed); blitzbench.values: whole numbers read

The pytest cases live in bench/ (benchmarks and verification) and tests/ (the harness's own tests).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository: results/, tox.ini, the test folders
