# Set-up and the suite's entry points. Everything runs in .venv/ in the repository root,
# made on first use from pyproject.toml. Extra pytest arguments: make bench ARGS="--quick".

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: venv bench test clean

venv: $(STAMP)

# Re-installs only when pyproject.toml changes; `make venv` twice does nothing the second time.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || \
		{ echo "make venv: needs python3 3.10 or newer (found: $$($(PYTHON) --version 2>&1)); set PYTHON=/path/to/python3.x"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e .
	touch $(STAMP)

# The main job: every benchmark case, timed.
bench: venv
	$(PY) -m pytest bench --benchmark-only $(ARGS)

# The whole verification suite, with every benchmark run once as a smoke test (untimed).
test: venv
	$(PY) -m pytest bench tests --benchmark-disable $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
