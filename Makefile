# SMS gateway: one entry point for building, testing and running the local stack.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
PYTEST      := $(PY) -m pytest -p no:cacheprovider

.PHONY: help venv services test test-unit test-integration test-localstack lint fmt bench clean
.PHONY: up down logs build test-e2e chaos fuzz

CHAOS_MESSAGES ?= 2000
FUZZ_CASES ?= 10000

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt layers/smsgw/pyproject.toml
	@echo "==> python venv ($(VENV), Python 3.12 like the Lambda runtime)"
	@test -x $(PY) || $$(scripts/find-python.sh 3.12) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check "pip<26.3"
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -e "layers/smsgw"
	@touch $@

venv: $(STAMP)  ## create or update the development venv

services:  ## make sure PostgreSQL and Redis are running (starts them if installed)
	@scripts/ensure-services.sh $(if $(CI),--install,)

test: venv services  ## every suite: unit, integration, executor, e2e, infrastructure
	$(PYTEST) tests/unit tests/integration tests/localstack tests/e2e -q
	infra/terraform/checks.sh test

test-unit: venv  ## unit tests only (no I/O)
	$(PYTEST) tests/unit -q

test-integration: venv services  ## integration tests (real PostgreSQL and Redis, moto SQS)
	$(PYTEST) tests/integration -q

test-localstack: venv  ## the Lambda executor plugin against a real LocalStack
	$(PYTEST) tests/localstack -q

test-e2e: venv services  ## end-to-end over HTTP: the stack on LocalStack (reuses a running one)
	$(PYTEST) tests/e2e -q

build: venv  ## Lambda artifacts: layer + function zips under build/ (reproducible)
	@$(PY) -m infra.packaging.build

up: venv  ## the whole stack on this machine: LocalStack, simulator, deploy, seed
	@$(PY) -m infra.local.stack up

down:  ## stop what `make up` started (and nothing else)
	@$(if $(wildcard $(PY)),$(PY) -m infra.local.stack down,echo "nothing to stop (no venv)")

logs: venv  ## recent function logs from LocalStack (F=ingress|webhooks|dispatch|callbacks|relay|housekeeping)
	@$(PY) -m infra.local.stack logs $(if $(F),--function $(F),)

lint: venv  ## ruff (lint + format check), mypy (strict, every Python file), terraform fmt and checkov
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@# Two more modules named conftest (besides tests/conftest.py): one run each.
	$(VENV)/bin/mypy tests/integration/conftest.py
	$(VENV)/bin/mypy tests/e2e/conftest.py
	infra/terraform/checks.sh fmt
	infra/terraform/checks.sh checkov

fmt: venv  ## format and fix what ruff can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

chaos: venv services  ## chaos run: CHAOS_MESSAGES (2000) sent under faults, loopback only (docs/chaos.md)
	$(PY) -m chaos --messages $(CHAOS_MESSAGES)

fuzz: venv  ## hostile requests against the running local stack (make up): FUZZ_CASES (10000)
	$(PY) -m chaos.fuzz --cases $(FUZZ_CASES)

bench: venv services  ## benchmarks (bench/), not part of the tests
	$(PY) bench/run.py

clean:  ## remove caches (keeps the venvs)
	find . -name __pycache__ -type d -prune -not -path './.venv*' -exec rm -rf {} +
	rm -rf .mypy_cache .ruff_cache
