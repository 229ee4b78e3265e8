# partnerdb: every command a user or CI runs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ARCH ?= x86_64
LAYER_PYTHON ?= 3.12
SLIM ?=
LAYER_ZIP := build/partnerdb-layer-$(LAYER_PYTHON)-$(ARCH)$(if $(SLIM),-slim).zip

.PHONY: help install test test-ddblocal test-sam lint layer layer-build demo bench deploy clean

help:
	@echo "make test          run the test suite (creates .venv when missing)"
	@echo "make lint          ruff and mypy"
	@echo "make layer-build   build build/partnerdb-layer-<python>-<arch>.zip"
	@echo "make layer         build and publish the layer (LAYER_NAME, AWS_REGION, credentials)"
	@echo "make demo          payments demo through the real Lambda runtime client, no AWS account"
	@echo "make bench         benchmarks against named baselines, writes bench/results/"
	@echo "make test-ddblocal integration tests against AWS's DynamoDB Local"
	@echo "make test-sam      sam build offline and check the artifacts"
	@echo "make deploy        sam build + sam deploy --guided into a real account"

$(STAMP): requirements-dev.txt layer/requirements.txt pyproject.toml
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

layer-build: $(STAMP)
	./build_layer.sh --arch $(ARCH) --python $(LAYER_PYTHON) $(if $(SLIM),--slim)

layer: layer-build
	$(PY) -m release.publish_layer --zip $(LAYER_ZIP) --python $(LAYER_PYTHON) --arch $(ARCH)

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
	rm -rf build .aws-sam .pytest_cache .mypy_cache .ruff_cache
