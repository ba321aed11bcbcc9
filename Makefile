# scratch: two commands from a fresh clone.
#
#   make demo    the demo (python -m scratch demo)
#   make test    the whole test suite (parity against tf.keras included)
#   make test-tiers   the suite again on each lower CPU tier (what CI adds)
#   make test-readable   the training tests with every fast path off (CI too)
#
# Both create .venv first if needed (`make venv`): Python >= 3.11 and pip are all a machine
# needs. pip's index comes from the machine's own pip configuration, never from here.
# `make clean` keeps .venv; remove it by hand (rm -rf .venv) to rebuild it from nothing.

SHELL := /bin/bash
.DEFAULT_GOAL := test

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.scratch-installed
EXTRAS := tf,test,examples
PIP_FLAGS := $(if $(CI),--progress-bar off,)

# Quiet, reproducible TensorFlow on CPU (same kernel choice on every machine).
export TF_CPP_MIN_LOG_LEVEL ?= 2
export TF_ENABLE_ONEDNN_OPTS ?= 0
export KERAS_BACKEND ?= tensorflow
export MPLBACKEND ?= Agg

.PHONY: venv demo test test-tiers test-readable bench examples lint clean

# The Numba kernels compiled into this checkout's cache (`python -m scratch warmup`, about
# 25 s on 2 cores), so that the first epoch of the first run pays no compilation. The stamp
# lives beside the cache, so a fresh clone (or `make clean`) warms up again, and an edited
# kernel module does too.
WARM := scratch/_kernels/__pycache__/.scratch-warm

venv: $(STAMP) $(WARM)

# Re-runs only when pyproject.toml changes (or the stamp is missing); an existing .venv is
# reused, never deleted. The stamp is written last, so a failed install is retried next time.
$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "No python3.11 or python3 on PATH." >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "scratch needs Python >= 3.11; $(PYTHON) is $$($(PYTHON) --version)." >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip setuptools wheel
	$(PY) -m pip install $(PIP_FLAGS) -e '.[$(EXTRAS)]'
	$(PY) -m pip install $(PIP_FLAGS) --no-deps "tf-keras==2.21.*"
	touch $@

$(WARM): $(STAMP) $(wildcard scratch/_kernels/*.py)
	$(PY) -m scratch warmup --quiet
	mkdir -p $(@D) && touch $@

demo: venv
	$(PY) -m scratch demo

test: venv
	$(PY) -m pytest -q --durations=15 tests

# The precision-sensitive tests again on every x86-64 tier below this machine's (NumPy's
# SIMD dispatch, Numba's target and OpenBLAS' kernels forced down: docs/PORTABILITY.md):
# every bit-exact claim, every fast == readable pair, parity with tf.keras of every layer,
# loss, metric, optimizer, initializer and random stream, and the seeded training runs. The
# files that check files, errors, packaging, docs and tools run once, natively. CI runs it.
TIER_TESTS := portability activations dense conv_layers convolution pooling normalization \
	embedding merge simple_rnn gru lstm masking losses metrics optimizers optimizer_kernels \
	fast_paths initializers random training_parity cnn_training rnn_training gan_floor \
	recommender_transfer_gan read_only_input subnormals noise_rearrange depthwise_and_spatial
test-tiers: venv
	@set -e; tiers="$$($(PY) -c 'from scratch import cpu_tier; print(*cpu_tier.lower_tiers())')"; \
	test -n "$$tiers" || echo "== no tier below this machine's ($$($(PY) -m scratch.cpu_tier))"; \
	for tier in $$tiers; do \
		$(PY) -m scratch.cpu_tier $$tier -- $(PY) -m pytest -q \
			$(foreach f,$(TIER_TESTS),tests/test_$(f).py); \
	done

# The training tests again with every fast path off (SCRATCH_FAST_PATHS=0): the readable
# NumPy code alone gives tf.keras' numbers too. CI runs it.
READABLE_TESTS := tests/test_training_parity.py tests/test_cnn_training.py \
	tests/test_rnn_training.py tests/test_recommender_transfer_gan.py tests/test_random.py \
	tests/test_masking.py tests/test_tape.py tests/test_subclassed.py
test-readable: venv
	SCRATCH_FAST_PATHS=0 $(PY) -m pytest -q $(READABLE_TESTS)

bench: venv
	$(PY) benchmarks/run.py $(BENCH_ARGS)

examples: venv
	@set -e; for f in $(sort $(wildcard examples/*.py)); do \
		echo "== $$f"; $(PY) "$$f"; \
	done

lint: venv
	$(PY) -m ruff --version >/dev/null 2>&1 || $(PY) -m pip install $(PIP_FLAGS) --quiet ruff
	$(PY) -m ruff check scratch keras_ref tests benchmarks examples

clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .hypothesis .ruff_cache build out *.egg-info
