# Introduction to Large Language Models: the course's commands.
#   make run     set up .venv on first use, execute every notebook, summary in build/
#   make test    ruff, unit tests, nbval over every notebook
#   make nbval-perturbed  nbval again as on another CPU (1 thread, AVX2 kernels, cold cache)
#   make lab     JupyterLab on the course
#   make slides  the lecture deck, HTML and PDF, in build/slides/
# Offline by default: the bundled all-MiniLM-L6-v2 and the Rotten Tomatoes files in
# COURSE_DATA_DIR. Online learners can `make run HF_HUB_OFFLINE=0 COURSE_DATA_DIR=`.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
# Where pip finds torch. Empty: the machine's pip configuration (here a local CPU wheel).
# Elsewhere, to avoid a multi-GB CUDA build: TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

export COURSE_DATA_DIR ?= $(abspath ../shared/data/rotten_tomatoes)
export HF_HUB_OFFLINE ?= 1
export COURSE_CACHE_DIR ?= $(abspath build/cache)
export PYTHONHASHSEED ?= 0

NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	--nbval-cell-timeout=1800

.PHONY: help install chromium run test lint unit nbval nbval-perturbed lab bench slides clean

help:
	@sed -n '1,9p' Makefile

# The venv is rebuilt when pyproject.toml changes. torch comes first, pinned, from the CPU
# wheel: a bare torch requirement would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m course_utils.runner

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check course_utils tests bench

# Headless Chromium checks exported HTML (attention views, figures, slides) offline.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		{ echo "Chromium is needed: sudo apt-get install chromium (or set CHROMIUM_PATH)"; exit 1; }

unit: install chromium
	$(PY) -m pytest tests -q

nbval: install chromium
	$(PY) -m pytest $(NBVAL_FLAGS) notebooks -q

test: lint unit nbval

# The committed outputs must not be a fingerprint of the machine that made them: nbval once
# more with another numerical environment (course_utils.stability.PERTURBED_ENV: one thread,
# PyTorch's AVX2 kernels, OpenBLAS's Haswell kernels) and cold embedding and decoder caches.
# Notebook 05's fine-tuning checkpoints ($(COURSE_CACHE_DIR)/runs, left by `make test`) are
# reused when present: retraining on one thread would take most of CI's time; the spread of the
# fine-tuned AUC across profiles is measured by bench/measure_spread.py instead.
PERTURBED_CACHE := $(abspath build/cache-perturbed)
nbval-perturbed: install chromium
	rm -rf $(PERTURBED_CACHE) && mkdir -p $(PERTURBED_CACHE)
	if [ -d "$(COURSE_CACHE_DIR)/runs" ]; then cp -r "$(COURSE_CACHE_DIR)/runs" $(PERTURBED_CACHE)/; fi
	env $$($(PY) -m course_utils.stability env) COURSE_CACHE_DIR=$(PERTURBED_CACHE) \
		$(PY) -m pytest $(NBVAL_FLAGS) notebooks -q -p no:cacheprovider

lab: install
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

# The lecture deck (HTML + PDF) from slides/deck.md and the notebooks' committed outputs.
slides: install chromium
	$(PY) -m course_utils.slides

bench: install
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf build .pytest_cache .ruff_cache
