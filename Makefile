# Two commands a stranger needs: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Pinned versions of every transitive dependency, known to co-install on a CPU-only machine.
CONSTRAINTS := constraints.txt

# Real data beside the repo (developers and CI only): tests that need it read these variables.
SHARED_DATA ?= ../shared/data
ifneq ($(wildcard $(SHARED_DATA)/esco),)
export ESCO_DIR ?= $(abspath $(SHARED_DATA)/esco)
endif
ifneq ($(wildcard $(SHARED_DATA)/stsbenchmark),)
export STSB_DIR ?= $(abspath $(SHARED_DATA)/stsbenchmark)
endif

export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
# Offline by default: nothing reaches a model hub unless you say so (make run ONLINE=1).
ifeq ($(ONLINE),1)
else
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
endif

.PHONY: install run test bench lab strip clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=24" "setuptools>=77.0.3,<82" wheel
	# torch first: the CPU wheel. An unpinned torch would pull several GB of CUDA packages.
	$(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -c $(CONSTRAINTS) -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (nbhelpers)"
	touch $(STAMP)

run: install
	$(PY) -m nbhelpers.run $(ARGS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/run_all.py

lab: install
	$(VENV)/bin/jupyter lab notebooks/

strip: install
	$(PY) -m nbhelpers.notebook_hygiene --strip notebooks/*.ipynb

clean-venv:
	rm -rf $(VENV)
