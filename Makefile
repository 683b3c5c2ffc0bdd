# Two commands: `make` builds every output of the embedded study; `make test` runs the tests.
# Both create .venv from the pinned lock (env/requirements.lock) when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
# Dates inside outputs (PDF metadata, font subsets, .sav and workbook headers) are the commit time
# of the checkout, set by the workflow itself (parentlink.buildinfo), so `make`, plain `snakemake`
# and a Slurm run give the same bytes.

.PHONY: all test lint bench clean lock raw archive verify-archive cluster

# `make STUDY=examples/schools` builds another study folder with this engine (docs/new-study.md).
all: $(VENV)/.installed
	$(BIN)/python -m parentlink.build --cores $(CORES) $(if $(STUDY),--study $(STUDY))

$(VENV)/.installed: env/requirements.lock pyproject.toml
	@echo "make: creating the environment in $(VENV) from env/requirements.lock (first run only; a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --progress-bar off --require-virtualenv -r env/requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@echo "make: environment ready"
	touch $@

test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests workflow/scripts bench
	$(BIN)/mypy src
	$(BIN)/snakemake --lint

bench: $(VENV)/.installed
	$(BIN)/python bench/build_times.py

# The whole workflow on a Slurm cluster (edit partition/account in workflow/profiles/slurm/config.yaml).
cluster: $(VENV)/.installed
	$(BIN)/snakemake --profile workflow/profiles/slurm

# Deposit bundle: results/archive/<name>-<version>.zip from the committed code with every output
# (docs/archive.md). The first run fills .cache/wheels/ from the package registry.
ARCHIVE = results/archive/$(shell sed -n 's/^name = "\(.*\)"/\1/p' pyproject.toml | head -1)-$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1).zip
archive: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES) archive

# Unpack the bundle in a temporary folder, install with no network from its wheels, rebuild,
# compare every checksum with the manifest; prints every difference, fails on any.
verify-archive: $(VENV)/.installed
	$(BIN)/python -m parentlink.archive verify $(ARCHIVE) --cores $(CORES) --python $(PYTHON)

# Regenerate the SYNTHETIC study in raw/ (byte-identical to the committed files).
raw: $(VENV)/.installed
	$(BIN)/python -m parentlink.synth --out raw
	$(BIN)/python -m parentlink.synth_documents --out raw

# Re-resolve the lock from env/requirements.in (needs the package registry).
lock:
	rm -rf /tmp/parentlink-lock && $(PYTHON) -m venv /tmp/parentlink-lock
	/tmp/parentlink-lock/bin/pip install --quiet -r env/requirements.in setuptools wheel
	( echo '# Pinned lock: every package of the environment, exact versions. Regenerate with `make lock`.'; \
	  /tmp/parentlink-lock/bin/pip freeze --all | grep -v '^pip==' ) > env/requirements.lock

clean:
	rm -rf results reports .snakemake
