# Every target creates .venv and installs what it needs when missing, so a
# fresh clone needs nothing but python3 (>= 3.10) and make.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# JAX='jax==0.10.2 jaxlib==0.10.2' installs that JAX into the venv instead of
# the newest one pip finds for $(PYTHON) (.ci/run tests both ends of the range).
JAX ?=
# The stamp depends on the dependency lists, so a changed one reinstalls.
STAMP := $(VENV)/.installed

# QUICK=1 shrinks `make bench` and `make accuracy` to smoke runs; ACCURACY_ARGS
# passes more options (e.g. ACCURACY_ARGS='--stride 16').
BENCH_ARGS := $(if $(QUICK),--quick,)

.PHONY: all install test lint experiments bench accuracy device-check clean

all: test

$(STAMP): pyproject.toml jaxact/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,experiments]' $(JAX)
	touch $(STAMP)

install: $(STAMP)

# Three workers on two cores: while one waits (a subprocess, Python-bound
# tracing) another compiles. A test file stays on one worker, which shares its
# module fixtures.
test: $(STAMP)
	$(PY) -m pytest -n 3 --dist loadfile -q

lint: $(STAMP)
	$(PY) -m ruff check jaxact tests experiments benchmarks

experiments: $(STAMP)
	$(PY) -m experiments all

bench: $(STAMP)
	$(PY) -m benchmarks.bench $(BENCH_ARGS)

accuracy: $(STAMP)
	$(PY) -m benchmarks.accuracy $(if $(QUICK),--quick,) $(ACCURACY_ARGS)

# Accuracy, same bits on every call path, and speed against jax.nn on the
# default device (a GPU where there is one), under 5 minutes: writes
# benchmarks/results/device-<platform>.md. DEVICE_CHECK_ARGS='--smoke --out DIR'
# for a quick run.
device-check: $(STAMP)
	$(PY) -m benchmarks.device_check $(DEVICE_CHECK_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
