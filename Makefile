# Introduction to Large Language Models: the course's commands.
#   make run     set up .venv on first use, execute every notebook, summary in build/
#   make test    ruff, unit tests, nbval over every notebook
#   make nbval-perturbed  nbval again as on another CPU (1 thread, AVX2 kernels, cold cache)
#   make online  the course as most learners run it: a no-extras wheel, an empty folder, the Hub
#                (a loopback Hub here), then the core paths offline from the cache it left
#   make depth   the core path of notebooks 00, 02-05 on a 2-layer cut of the bundled model
#   make py312   the no-extras wheel on Python 3.12 (Colab's): imports, notebook 01
#   make gpu-check  notebooks 01 and 05 on a CUDA GPU, results in build/gpu-check/
#   make lab     JupyterLab on the course
#   make slides  the lecture deck, HTML and PDF, in build/slides/
#   make refresh re-run the notebooks in place (NB=notebooks/NN_x.ipynb for one)
# No flags needed: the course probes the Hugging Face Hub once per notebook and says what it
# chose. Data: $COURSE_DATA_DIR if set, else ../shared/data/rotten_tomatoes if that folder
# exists, else the Hub. Installs follow the lock file constraints.txt (LOCK= for ranges only).

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# The lock file: exact versions of everything the committed outputs were produced with.
LOCK ?= constraints.txt
TORCH_VERSION ?= $(or $(shell sed -n 's/^torch==//p' constraints.txt 2>/dev/null),2.13.0)
# Where pip finds torch. Empty: the machine's pip configuration: on the course's own machines a
# local CPU wheel, on a learner's Linux machine PyPI's CUDA build (with its nvidia-* packages).
# Either works. To avoid the multi-GB CUDA build: TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

# A folder of the Rotten Tomatoes files next to the checkout is used when it exists (as on
# the course's own machines); otherwise nothing is set and the data comes from the Hub.
SHARED_DATA := $(abspath ../shared/data/rotten_tomatoes)
ifneq ($(wildcard $(SHARED_DATA)/rt-polarity.pos),)
export COURSE_DATA_DIR ?= $(SHARED_DATA)
endif
# Everything the notebooks write (caches, runs, exported views): course_utils.core.paths.course_dir
export COURSE_CACHE_DIR ?= $(abspath build/cache)
export PYTHONHASHSEED ?= 0

# nbval compares against outputs made with the bundled all-MiniLM-L6-v2, so it uses that
# model even where the Hub would offer DistilBERT (`make run` uses the resolver's choice).
NBVAL_ENV := COURSE_MODEL=bundled
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	--nbval-cell-timeout=1800

.PHONY: help install chromium run refresh test lint unit data-check nbval nbval-perturbed online \
	depth py312 gpu-check lab bench slides lock clean

help:
	@sed -n '1,15p' Makefile

# The venv is rebuilt when pyproject.toml or the lock changes. torch comes first, pinned, from
# wherever pip takes it (see TORCH_INDEX); then the lock's exact set with --no-deps, so pip does
# no resolver search (a search through the CUDA build's nvidia-* versions can fail with
# resolution-too-deep); then the course itself, whose resolver pass finds everything installed
# and adds only what this platform needs beyond the lock; pip check confirms the result.
$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(if $(LOCK),$(PY) -m pip install --quiet --no-deps -r $(LOCK))
	$(PY) -m pip install --quiet $(if $(LOCK),-c $(LOCK)) -e ".[dev]"
	$(PY) -m pip check
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m course_utils.tooling.runner

# Refresh the committed outputs (all notebooks, or NB=notebooks/NN_x.ipynb) with a real run, in
# the environment nbval compares them in.
# Then nbval as on another CPU on the refreshed outputs (CI leaves it here, where outputs change).
refresh: install
	env $(NBVAL_ENV) $(PY) -m course_utils.tooling.runner --inplace $(NB)
	$(MAKE) nbval-perturbed

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check course_utils tests bench solutions

# Headless Chromium checks exported HTML (attention views, figures, slides) offline.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		{ echo "Chromium is needed: sudo apt-get install chromium (or set CHROMIUM_PATH)"; exit 1; }

unit: install chromium
	$(PY) -m pytest tests -q

# Stops in a second with a clear message when there is no data (no folder, no Hub).
data-check: install
	$(PY) -m course_utils.core.data

nbval: install chromium data-check
	env $(NBVAL_ENV) $(PY) -m pytest $(NBVAL_FLAGS) notebooks -q

test: lint unit nbval

# The committed outputs must not be a fingerprint of the machine that made them: nbval once
# more with another numerical environment (course_utils.tooling.stability.PERTURBED_ENV: one thread,
# PyTorch's AVX2 kernels, OpenBLAS's Haswell kernels) and cold embedding and decoder caches.
# Notebook 05's fine-tuning checkpoints ($(COURSE_CACHE_DIR)/runs, left by `make test`) are
# reused when present: retraining on one thread would take most of CI's time; the spread of the
# fine-tuned AUC across profiles is measured by bench/measure_spread.py instead.
PERTURBED_CACHE := $(abspath build/cache-perturbed)
nbval-perturbed: install chromium data-check
	rm -rf $(PERTURBED_CACHE) && mkdir -p $(PERTURBED_CACHE)
	if [ -d "$(COURSE_CACHE_DIR)/runs" ]; then cp -r "$(COURSE_CACHE_DIR)/runs" $(PERTURBED_CACHE)/; fi
	env $$($(PY) -m course_utils.tooling.stability env) $(NBVAL_ENV) COURSE_CACHE_DIR=$(PERTURBED_CACHE) \
		$(PY) -m pytest $(NBVAL_FLAGS) notebooks -q -p no:cacheprovider

# The course as most learners run it (Colab, a laptop online): the wheel with no extras in a
# fresh environment, the notebooks in an empty folder, DistilBERT and the data from the Hub (a
# loopback Hub serving repos shaped like the real ones: tests/loopback_hub.py), then the same
# notebooks' core paths offline from the cache the first run left. COURSE_PROFILE=ci shortens notebook 05's
# fine-tuning there. Summary and the Hub endpoints called: build/online/.
online: install data-check
	$(PY) tests/online_course.py

# Other depths (issue 33): the core path of notebooks 00, 02-05 (the cells before "## Going
# further") on the bundled model's first 2 layers in BERT layout; which claims were enforced and
# which only reported: build/depth/results.md. `python tests/depth_matrix.py --whole`: every cell.
depth: install data-check
	$(PY) tests/depth_matrix.py

# Python 3.12 (Colab's): the no-extras wheel in a fresh 3.12 environment (PyPI's torch for 3.12),
# every module imported, notebook 01 run. PYTHON312= names the interpreter. Not part of CI.
py312: install
	$(PY) tests/python312.py

# On a machine with a CUDA GPU: notebooks 01 and 05 on the GPU (fine-tuning from scratch, with
# mixed precision), device, times and AUCs in build/gpu-check/results.json.
gpu-check: install data-check
	$(PY) bench/gpu_check.py

lab: install
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# The lecture deck (HTML + PDF) from slides/deck.md and the notebooks' committed outputs.
slides: install chromium
	$(PY) -m course_utils.tooling.slides

bench: install
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Refresh the lock file from .venv after a deliberate upgrade (then re-run the notebooks).
# Local version labels (torch's +cpu) are dropped: `torch==2.13.0` admits the CPU wheel and PyPI's.
lock:
	{ echo "# The lock file: exact versions the committed notebook outputs were produced with."; \
	  echo "# make installs torch, then this exact set with --no-deps; refresh with 'make lock' (README)."; \
	  echo "# Made with torch's CPU wheel ($$($(PY) -c 'import torch; print(torch.__version__)'), $$(uname -sm), Python $$($(PY) -c 'import platform; print(platform.python_version())')): PyPI's"; \
	  echo "# CUDA build of the same version works too; its nvidia-*/cuda-*/triton packages come with torch."; \
	  $(PY) -m pip freeze --exclude-editable --exclude course_utils | sed 's/+[a-z0-9.]*$$//'; \
	} > constraints.txt

clean:
	rm -rf build .pytest_cache .ruff_cache
