# Set-up and the suite's entry points. Everything runs in .venv/ in the repository root,
# made on first use from pyproject.toml. Extra pytest arguments: make bench ARGS="--quick".

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: venv bench test profile matrix gpu-check clean

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

# Profiler traces of the quick benchmark set (TensorBoard / Perfetto), under results/traces/.
profile: venv
	$(PY) -m pytest bench/test_throughput.py --benchmark-only --quick --profile $(ARGS)

# Torch releases compared in interleaved rounds of their tox environments (see the README,
# "Across torch releases"), e.g. make matrix ARGS="torch24,torch215 --rounds 6 -- --quick --device cpu"
matrix: venv
	$(PY) -m bench.matrix $(ARGS)

# The whole verification suite, with every benchmark run once as a smoke test (untimed).
test: venv
	$(PY) -m pytest bench tests --benchmark-disable $(ARGS)

# For a machine with an NVIDIA GPU, offline: the verification suite's CUDA cases, the quick
# benchmark set on CPU and CUDA (for the CUDA ÷ CPU column), and the fidelity cross-check on
# both devices. Writes its JSON and Markdown into $$OUT when set, else results/. Uses .venv's
# python when there is one, else python3 (which must have torch, pytest-benchmark and tabulate).
GPU_PY      ?= $(if $(wildcard $(PY)),$(PY),python3)
GPU_CASES   := cifar_net-cpu-bs64-train_step,chapter_net-cuda-bs64-forward,cifar_net-cuda-bs256-train_step

gpu-check:
	@out="$${OUT:-results}"; mkdir -p "$$out"; status=0; \
	$(GPU_PY) -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else "make gpu-check: torch " + torch.__version__ + " sees no CUDA device")' || exit 2; \
	$(GPU_PY) -c 'import torch; print("gpu-check:", torch.cuda.get_device_name(0), "torch", torch.__version__, "CUDA", torch.version.cuda)'; \
	echo "== verification, CUDA cases"; \
	$(GPU_PY) -m pytest bench tests -m cuda --benchmark-disable --device cuda -q -p no:cacheprovider || status=1; \
	echo "== quick benchmarks, cpu and cuda -> $$out"; \
	$(GPU_PY) -m pytest bench --benchmark-only --quick --device cpu,cuda --results-dir "$$out" -q -p no:cacheprovider --benchmark-columns=median,iqr,rounds || status=1; \
	echo "== fidelity: suite median vs torch.utils.benchmark.Timer"; \
	$(GPU_PY) -m bench.fidelity --cases $(GPU_CASES) --repeats 3 --json "$$out/fidelity.json" || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
