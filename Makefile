# `make run` executes the series, `make lab` opens it in JupyterLab, `make test` checks it
# (`make test-fast`: the tests that train no real model, execute no notebook and start no browser).
# Each creates .venv on first use.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Pinned versions of every transitive dependency, known to co-install on a CPU-only machine.
CONSTRAINTS := constraints.txt

# Development data beside the repo (developers and CI only): tests and benchmarks read these variables.
SHARED_DATA ?= ../shared/data
ifneq ($(wildcard $(SHARED_DATA)/esco),)
export ESCO_DIR ?= $(abspath $(SHARED_DATA)/esco)
endif
ifneq ($(wildcard $(SHARED_DATA)/stsbenchmark),)
export STSB_DIR ?= $(abspath $(SHARED_DATA)/stsbenchmark)
endif

export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
# Hub mode: online when the Hugging Face hub answers, else offline on the embedded default
# (nbhelpers.env decides and prints which). OFFLINE=1 or ONLINE=1 forces one or the other.
ifeq ($(OFFLINE),1)
export HF_HUB_OFFLINE := 1
else ifeq ($(ONLINE),1)
export HF_HUB_OFFLINE := 0
endif
# Where torch comes from: PyTorch's CPU index (a small wheel; PyPI's Linux wheel pulls several GB
# of CUDA packages). A GPU machine can say TORCH_INDEX= (PyPI) or a CUDA index instead.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

# `make test` runs on this many pytest-xdist workers (the series' notebooks and the tests that read
# their run stay on one worker, in order: the scheduler of conftest.py).
TEST_WORKERS ?= 2

.PHONY: install run test test-fast coverage bench docs check lab lint strip clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=24" "setuptools>=77.0.3,<82" wheel
	# torch first, pinned: an unpinned torch would pull several GB of CUDA packages.
	$(PY) -m pip install $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "torch==2.13.0"
	$(PY) -m pip install -c $(CONSTRAINTS) -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (nbhelpers)"
	touch $(STAMP)

run: install
	$(PY) -m nbhelpers.run $(ARGS)

test: install
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

# Line coverage of nbhelpers/ over the whole suite, notebooks' kernels and subprocesses included.
# In one process: under coverage, nbval's kernels did not answer on pytest-xdist's workers.
coverage: install
	rm -f .coverage .coverage.*
	COVERAGE_FILE=$(abspath .coverage) $(PY) -m pytest -n 0 \
		--cov --cov-report=term --cov-report=json:coverage.json $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/run_all.py

docs: install
	$(PY) -m nbhelpers.docs

check: install
	$(PY) -m nbhelpers.check

lab: install
	$(VENV)/bin/jupyter lab notebooks/

lint: install
	$(VENV)/bin/ruff check .

strip: install
	$(PY) -m nbhelpers.notebook_hygiene --strip notebooks/*.ipynb

clean-venv:
	rm -rf $(VENV)
