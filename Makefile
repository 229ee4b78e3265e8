# partnerdb: every command a user or CI runs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ARCH ?= x86_64
LAYER_PYTHON ?= 3.12
SLIM ?=

.PHONY: help install test test-ddblocal test-sam lint layer layer-build demo bench deploy clean \
	dist lock

help:
	@echo "make test          run the test suite (creates .venv when missing)"
	@echo "make lint          ruff and mypy"
	@echo "make dist          build the wheel and sdist into dist/"
	@echo "make lock          re-pin layer/requirements.lock (hashes) from layer/requirements.txt"
	@echo "make layer-build   build build/partnerdb-layer-<python>-<arch>.zip"
	@echo "make layer         build and publish the layer (REGIONS, LAYER_ORG_ID, ... see README)"
	@echo "make demo          payments demo through the real Lambda runtime client, no AWS account"
	@echo "make bench         benchmarks against named baselines, writes bench/results/"
	@echo "make test-ddblocal integration tests against AWS's DynamoDB Local"
	@echo "make test-sam      sam build offline and check the artifacts"
	@echo "make deploy        sam build + sam deploy --guided into a real account"

$(STAMP): requirements-dev.txt layer/requirements.txt layer/requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt -e .
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The wheel (partnerdb, partnerdb.testing, handler_sdk) and the sdist, in an isolated build.
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .

# pip-compile records the sha256 of every file of each pinned release, so one lock serves every
# Python and architecture build_layer.sh targets (tests/layer/test_lock.py checks all six).
lock: $(STAMP)
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes \
		--allow-unsafe --strip-extras --no-emit-index-url --no-emit-trusted-host \
		--no-emit-find-links --output-file layer/requirements.lock layer/requirements.txt

layer-build: $(STAMP)
	./build_layer.sh --arch $(ARCH) --python $(LAYER_PYTHON) $(if $(SLIM),--slim)

# One build and one publish per (python, arch): LAYER_PYTHONS="3.12 3.13" ARCHES="x86_64 arm64".
# Publishing options (REGIONS, LAYER_ORG_ID, LAYER_ACCOUNTS, LAYER_PUBLIC, LAYER_BUCKET,
# LAYER_NAME, LAYER_NAME_SLIM) are read from the environment by release/publish_layer.py.
LAYER_PYTHONS ?= $(LAYER_PYTHON)
ARCHES ?= $(ARCH)
layer: $(STAMP)
	@set -e; zips=(); \
	for py in $(LAYER_PYTHONS); do for arch in $(ARCHES); do \
		./build_layer.sh --arch "$$arch" --python "$$py" $(if $(SLIM),--slim); \
		zips+=(--zip "build/partnerdb-layer-$$py-$$arch$(if $(SLIM),-slim).zip"); \
	done; done; \
	$(PY) -m release.publish_layer "$${zips[@]}"

demo: $(STAMP)
	$(PY) -m local.demo

bench: $(STAMP)
	$(PY) -m bench

test-ddblocal: $(STAMP)
	$(PY) -m emulators.ddblocal -- $(PY) -m pytest -q -m ddblocal

test-sam: $(STAMP)
	$(PY) -m pytest -q tests/sam

# SAM CLI lives in its own venv (build/sam-venv): it pins an older boto3 than the layer.
deploy: $(STAMP)
	./release/sam.sh build && ./release/sam.sh deploy --guided

clean:
	rm -rf build dist .aws-sam .pytest_cache .mypy_cache .ruff_cache
