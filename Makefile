# Every target creates .venv and installs what it needs when missing, so a
# fresh clone needs nothing but python3 (>= 3.11) and make.
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

.PHONY: all install test lint package-check experiments bench accuracy device-check docs clean

all: test

$(STAMP): pyproject.toml jaxact/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,experiments,dev]' $(JAX)
	touch $(STAMP)

install: $(STAMP)

# The documentation's packages (the `docs` extra) go into the same venv, under
# a stamp of their own, so `make test` does not install them.
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[docs]' $(JAX)
	touch $(DOCS_STAMP)

# Three workers on two cores: while one waits (a subprocess, Python-bound
# tracing) another compiles. A test file stays on one worker, which shares its
# module fixtures.
test: $(STAMP)
	$(PY) -m pytest -n 3 --dist loadfile -q

# ruff on all the Python, mypy on the library (its settings: pyproject.toml).
lint: $(STAMP)
	$(PY) -m ruff check jaxact tests experiments benchmarks harness
	$(PY) -m mypy

# Builds the wheel and the sdist, checks them with twine and installs the
# wheel into a fresh venv, alone and with the flax extra (downloads JAX, so it
# is not part of `make test`).
package-check: $(STAMP)
	JAXACT_PACKAGE_CHECK=1 $(PY) -m pytest -q tests/test_packaging.py

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

# Warnings are errors; --keep-going reports all of them before failing.
docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache \
		docs/_build docs/api/generated
