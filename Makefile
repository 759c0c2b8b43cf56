# Two commands on a fresh machine: `make synth` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_NOSPIN := 1
export PIPENV_VERBOSITY := -1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export CHECKPOINT_DISABLE := 1

PYTHON ?= python3
PIPENV_VERSION := 2026.10.3
# pipenv from PATH, else a private copy under .build/ (works where the system pip is locked by PEP 668)
PIPENV := $(shell command -v pipenv 2>/dev/null || echo .build/pipenv/bin/pipenv)
VENV_PY := .venv/bin/python
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install synth diff deploy test snapshot-update bench lint serve-model bench-model \
        plan-review access-check emulator-start emulator-stop deploy-local destroy-local e2e state-migrate release \
        verify verify-local clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.build/pipenv/bin/pipenv:
	$(PYTHON) -m venv .build/pipenv
	.build/pipenv/bin/pip install --quiet pipenv==$(PIPENV_VERSION)

.venv/.synced: Pipfile.lock | $(PIPENV)
	$(PIPENV) sync --dev
	touch $@

node_modules/.synced: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: .venv/.synced node_modules/.synced ## install the pinned Python and Node dependencies

synth: install ## synthesize every stack of PIPELINE_ENV (default local) into cdktf.out/ and print a table
	$(VENV_PY) main.py

diff: install ## cdktf diff of every stack (needs credentials for dev/prod)
	npx cdktf diff '*'

deploy: install ## cdktf deploy of every stack in dependency order (needs credentials for dev/prod)
	npx cdktf deploy '*' --auto-approve

test: install ## lint, then the whole suite: unit, snapshots, checkov, terraform validate, runtime, plan review, e2e
	$(VENV_PY) -m ruff check .
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

snapshot-update: install ## regenerate the synthesized-JSON snapshots after an intended change
	$(VENV_PY) -m pytest tests/stacks --snapshot-update

bench: install ## synth benchmark: the project's synth vs the floor vs the naive provider import
	$(VENV_PY) benchmarks/synth_time.py

lint: install ## ruff over the Python code
	$(VENV_PY) -m ruff check .

serve-model: install ## run the inference server on 127.0.0.1:8080 (trains the example model into .build/model/ on first use)
	$(VENV_PY) -m containers.inference.serve --train-if-missing --model-dir .build/model --host 127.0.0.1 --port 8080

bench-model: install ## the model server against FastAPI and Flask peers: req/s, p50/p99, memory (BENCH_ARGS="--reps 5")
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; }; } \
	  || { echo "bench-model needs wrk: apt-get install wrk (Debian, Ubuntu) or brew install wrk (macOS)"; exit 1; }
	$(VENV_PY) benchmarks/model_server.py $(BENCH_ARGS)

plan-review: install ## review Terraform plan JSON files: make plan-review PLANS="plans/*/plan.json"
	$(VENV_PY) -m tools.plan_review $(PLANS)

state-migrate: install ## move the state stack's own local state into its bucket: make state-migrate PIPELINE_ENV=prod (set [state] self_managed = true first)
	$(VENV_PY) -m tools.state_migrate

release: install ## ship a model: make release MODEL_DIR=path [VERSION=v] (package, upload, set inference.model_version)
	$(if $(MODEL_DIR),,$(error MODEL_DIR is required: make release MODEL_DIR=path/to/model [VERSION=1.4.2]))
	$(VENV_PY) -m tools.release release $(MODEL_DIR) $(if $(VERSION),--version $(VERSION),)

verify: install ## after an apply: the endpoint serves the applied configuration and POST /v1/predict answers
	$(VENV_PY) -m tools.release verify

verify-local: install ## the same checks on the local deployment of deploy-local (emulator)
	$(VENV_PY) -m tools.release verify --local

access-check: install ## synth PIPELINE_ENV, then prove offline that its policies allow every runtime AWS call
	$(VENV_PY) main.py
	$(VENV_PY) -m tools.access_check

emulator-start: install ## start the local AWS emulator (moto) on loopback, recorded in .build/emulator.json
	$(VENV_PY) -m tools.emulator start

emulator-stop: ## stop the recorded emulator
	$(VENV_PY) -m tools.emulator stop

deploy-local: install ## deploy every stack onto a local moto emulator (no AWS account needed)
	$(VENV_PY) -m tools.local deploy

destroy-local: install ## destroy the local deployment; stop the emulator if deploy-local started it
	$(VENV_PY) -m tools.local destroy

e2e: install ## on a private emulator: deploy, push a job through, release a second model version, verify, push a job through it, destroy
	$(VENV_PY) -m tools.local e2e

clean: ## remove generated output (keeps state/)
	rm -rf cdktf.out .build/model .build/cdktf.out.local-* .pytest_cache
