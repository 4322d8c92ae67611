# The two commands: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[dev]'
	@touch $@

.PHONY: venv
venv: $(STAMP) ## create .venv and install Helmward with its dev tools

.PHONY: shim
shim: ## build (or reuse) the Helm engine shim in ~/.cache/helmward/shim
	bash hack/lib/build-shim.sh

.PHONY: build
build: shim ## build (or reuse) the control-plane binaries in ~/.cache/helmward/bin
	bash hack/lib/build.sh

.PHONY: test-deps
test-deps: ## Debian packages, the OCI registry, Flux's controllers and the peers (kube-state-metrics, cosign) the tests need
	bash hack/lib/install-debs.sh
	bash hack/lib/build-registry.sh >/dev/null
	bash hack/lib/build-flux.sh >/dev/null
	bash hack/lib/build-peers.sh >/dev/null

.PHONY: test
test: venv build test-deps ## set everything up, then run the tests (not the slow ones)
	$(VPY) -m pytest -m "not slow" $(PYTEST_ARGS)

.PHONY: lint
lint: venv ## ruff, mypy and lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy api internal controller
	$(VENV)/bin/lint-imports

.PHONY: generate
generate: venv ## write config/crd/ (the CRDs and their kustomization) from the models in api/
	$(VPY) hack/generate.py

.PHONY: demo
demo: venv build test-deps ## the main job: local cluster, sources, controller and sample releases until Ready
	bash hack/demo.sh

.PHONY: cluster-up
cluster-up: build ## start the local control plane
	bash hack/cluster.sh up

.PHONY: cluster-down
cluster-down: ## stop the local control plane
	bash hack/cluster.sh down

.PHONY: clean
clean: ## remove the venv and caches inside the checkout (not ~/.cache/helmward)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
