# The two commands the README names are `make up` and `make test`.
# Every target is idempotent; expensive results are cached under .state/.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STATE := $(CURDIR)/.state
export PATH := $(STATE)/bin:$(PATH)
PYTEST_ARGS ?=

.PHONY: help venv setup node-image images cluster cluster-down up down run-local test test-unit test-services test-e2e gate bench clean

help:
	@echo "make up            set everything up, deploy the app behind Traefik, print its URL"
	@echo "make test          set everything up and run every test tier"
	@echo "make setup         Docker engine, kind, helm, kubectl, node image, Chromium, images (idempotent)"
	@echo "make cluster       create or reuse the kind cluster and smoke-check it"
	@echo "make cluster-down  delete the kind cluster"
	@echo "make test-unit     the chart's render tier only (helm template, no cluster)"
	@echo "make run-local     nats, FerretDB, api, ws and www as local processes (no cluster)"
	@echo "make gate          release gate: helm lint, version bump, upgrade safety vs BASE_REF, unit tier,"
	@echo "                   helm package + push to an OCI registry, helm test and the OCI install in e2e"
	@echo "                   (OFFLINE=1: no cluster, no push); report in .state/artifacts/gate"
	@echo "make bench         benchmark scripts (print figures)"

# the framework (framework/) and this repository (app, bootstrap, app test support), both editable
$(VENV)/.installed: pyproject.toml framework/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ./framework -e '.[test]'
	@# bytecode of the editable framework, as pip writes it for an installed one: with
	@# PYTHONDONTWRITEBYTECODE=1 (CI images) every run would compile chartest again
	$(VENV)/bin/python -m compileall -q framework/src >/dev/null
	touch $@

venv: $(VENV)/.installed

# targets that are exactly one `python -m webhooks_testing <target>` command
APP_COMMANDS := setup images cluster cluster-down up run-local
$(APP_COMMANDS): venv
	$(PY) -m webhooks_testing $@

node-image: venv
	$(PY) -m bootstrap node-image

down: cluster-down

test: setup
	$(PY) -m pytest --chart-cov --junitxml=$(STATE)/artifacts/junit.xml $(PYTEST_ARGS)

test-unit: venv
	$(PY) -m bootstrap setup --tools-only
	$(PY) -m pytest tests/unit --chart-cov $(PYTEST_ARGS)

test-services: venv
	$(PY) -m pytest tests/services $(PYTEST_ARGS)

test-e2e: setup
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# the release gate (python -m chartest gate): one JUnit XML and gate.md under .state/artifacts/gate
BASE_REF ?=
OFFLINE ?=
gate: $(if $(OFFLINE),venv,setup)
	$(PY) -m bootstrap setup --tools-only
	$(PY) -m chartest gate --tests tests/unit -f tests/unit/fixtures/seed-values.yaml \
	  $(if $(BASE_REF),--base-ref $(BASE_REF)) $(if $(OFFLINE),--offline,--e2e tests/e2e/test_helm_test_and_upgrade.py --e2e tests/e2e/test_oci_install.py) \
	  $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))

bench: setup
	$(PY) bench/unit
	$(PY) bench/chart_cov
	$(PY) bench/routing
	$(PY) bench/e2e
	$(PY) bench/latency
	$(PY) bench/cluster

clean:
	rm -rf $(VENV) .pytest_cache
