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
# Synth runs optimized (-O, as cdktf.json's app): jsii's generated bindings check every argument with typeguard
# while __debug__ is on (jsii documents -O to skip them; a third of synth's Python time). The tests keep them on.
SYNTH := $(VENV_PY) -O main.py
PYTEST_ARGS ?=
BENCH_ARGS ?=
# The operators' CLI (tools/pipeline/): ./pipeline --help
PIPELINE := ./pipeline

.PHONY: help install synth diff deploy test snapshot-update bench lint serve-model bench-model bench-worker \
        plan-review bench-plan-review plan-local drift access-check k8s-validate k8s-apply k8s-install emulator-start \
        emulator-stop deploy-local destroy-local e2e e2e-stress state-migrate release verify verify-local submit job \
        predict queues dlq redrive work bench-batch transform docs refactor-check refactor-plan format clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.build/pipenv/bin/pipenv:
	$(PYTHON) -m venv .build/pipenv
	.build/pipenv/bin/pip install --quiet pipenv==$(PIPENV_VERSION)

.venv/.synced: Pipfile.lock | $(PIPENV)
	$(PIPENV) sync --dev
	@# the optimized bytecode SYNTH reads (pip compiles only the plain kind; where PYTHONDONTWRITEBYTECODE is
	@# set no run would ever write it, and every synth would compile the 700 MB of provider bindings it imports)
	$(VENV_PY) -O -m compileall -q -j 0 "$$($(VENV_PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	touch $@

node_modules/.synced: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# NO_INSTALL=1 uses the environment as it is: for commands run inside `make test`, which has just installed it
# (the README examples), so they never re-sync the environment the tests run in.
ifeq ($(NO_INSTALL),1)
install: ;
else
install: .venv/.synced node_modules/.synced ## install the pinned Python and Node dependencies
endif

synth: install ## synthesize every stack of PIPELINE_ENV (default local) into cdktf.out/ and print a table
	$(SYNTH)

diff: install ## plan PIPELINE_ENV (required) on its AWS account, every stack or STACKS="api compute"; says env, account, region first
	$(VENV_PY) -m tools.deploy_guard diff $(STACKS)

deploy: install ## deploy PIPELINE_ENV (required; never local: make deploy-local) after env, account, region; AUTO_APPROVE=1 skips prompts
	$(VENV_PY) -m tools.deploy_guard deploy $(STACKS) $(if $(AUTO_APPROVE),--auto-approve)

test: install ## lint, then the whole suite: unit, snapshots, checkov, terraform validate, runtime, plan review, e2e
	@$(MAKE) --no-print-directory lint
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

snapshot-update: install ## regenerate the synthesized-JSON snapshots after an intended change
	$(VENV_PY) -m pytest tests/stacks tests/kubernetes/test_snapshots.py --snapshot-update

bench: install ## synth benchmark: the project's synth vs the floor vs the naive provider import
	$(VENV_PY) benchmarks/synth_time.py

lint: install ## ruff over the Python code: its lint rules, and one format at one line length (`make format` fixes it)
	$(VENV_PY) -m ruff check .
	$(VENV_PY) -m ruff format --check .

format: install ## ruff format over the whole tree (line length 120, pyproject.toml)
	$(VENV_PY) -m ruff format .

serve-model: install ## run the inference server on 127.0.0.1:8080 (trains the example model into .build/model/ on first use)
	$(VENV_PY) -m containers.inference.serve --train-if-missing --model-dir .build/model --host 127.0.0.1 --port 8080

bench-model: install ## the model server against FastAPI and Flask peers: req/s, p50/p99, memory (BENCH_ARGS="--reps 5")
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; }; } \
	  || { echo "bench-model needs wrk: apt-get install wrk (Debian, Ubuntu) or brew install wrk (macOS)"; exit 1; }
	$(VENV_PY) benchmarks/model_server.py $(BENCH_ARGS)

bench-batch: install ## batch mode on one task: records/s and peak memory at 100k and 1M records (measured, not asserted)
	$(VENV_PY) benchmarks/batch_job.py

transform: install ## SageMaker Batch Transform of the endpoint's model: make transform INPUT=s3://<results bucket>/batch-inputs/<prefix>/
	$(VENV_PY) -m tools.transform --input "$(INPUT)" $(TRANSFORM_ARGS)

bench-worker: install ## jobs/s and p50/p99 job latency, queue worker task vs worker function instance, per batch size (measured)
	$(VENV_PY) benchmarks/worker_throughput.py

docs: install ## regenerate docs/configuration.md (from the config schema) and docs/architecture.{dot,svg} (from the stacks)
	$(VENV_PY) -m tools.docs

refactor-check: install ## prove a refactor moved nothing: Terraform addresses vs the snapshots of BASE (default main)
	$(VENV_PY) -m tools.refactor_check --base $(or $(BASE),main)

refactor-plan: install ## prove it on the emulator: deploy BASE (default main), plan the working tree: no change in any stack
	$(VENV_PY) -m tools.local.refactor_plan --base $(or $(BASE),main)

plan-review: install ## review Terraform plan JSON files: make plan-review PLANS="plans/*/plan.json"
	$(VENV_PY) -m tools.plan_review $(PLANS)

bench-plan-review: install ## plan review time on plans of thousands of resource changes (linear pass, measured)
	$(VENV_PY) benchmarks/plan_review.py

drift: install ## refresh-only plan of every stack of PIPELINE_ENV (local: the emulator deployment), reviewed; exit 2 on drift
	@if [ "$${PIPELINE_ENV:-local}" != local ]; then $(SYNTH); fi
	$(VENV_PY) -m tools.plan_review.drift

plan-local: install ## plan every stack against the local deployment (CONFIG=changed.toml to plan a change) and review it
	$(VENV_PY) -m tools.local.plan $(if $(CONFIG),--config $(CONFIG))

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
	$(SYNTH)
	$(VENV_PY) -m tools.access_check

k8s-validate: install ## EKS environments: synth PIPELINE_ENV, then validate its Kubernetes manifests offline
	$(SYNTH)
	$(VENV_PY) -m tools.kubernetes validate

k8s-apply: install ## EKS environments: synth, validate, kubectl apply the manifests in order (DRY_RUN=server to only ask the API server; ONLY=admin or ONLY=deployer for one role's files)
	$(SYNTH)
	$(VENV_PY) -m tools.kubernetes apply --dry-run=$(or $(DRY_RUN),none) $(if $(ONLY),--only=$(ONLY))

k8s-install: install ## EKS environments: install the pinned cluster add-ons with Helm (KEDA; the AWS Load Balancer Controller on node groups: VPC_ID=...; the NVIDIA device plugin for GPU pods)
	$(VENV_PY) -m tools.kubernetes install

emulator-start: install ## start the local AWS emulator (moto) on loopback, recorded in .build/emulator.json
	$(VENV_PY) -m tools.emulator start

emulator-stop: ## stop the recorded emulator
	$(VENV_PY) -m tools.emulator stop

deploy-local: install ## deploy every stack onto a local moto emulator (no AWS account needed)
	$(VENV_PY) -m tools.local deploy

destroy-local: install ## destroy the local deployment; stop the emulator if deploy-local started it
	$(VENV_PY) -m tools.local destroy

e2e: install ## on a private emulator: deploy, a job through each consumer path (+ poison, duplicate), release and verify a second model version, run the README's examples, destroy
	$(VENV_PY) -m tools.local e2e

e2e-stress: install ## make e2e three times in a row under a CPU hog on every core; pass count and times
	$(VENV_PY) -m tools.local stress

submit: install ## submit a job and wait for its result: make submit [FILE=examples/job.json] (./pipeline jobs submit)
	$(PIPELINE) jobs submit --file $(or $(FILE),examples/job.json) --wait

job: install ## status and result of a job: make job JOB=<job id> (./pipeline jobs get)
	$(PIPELINE) jobs get $(JOB)

predict: install ## a synchronous prediction: make predict [FILE=examples/predict.json] (./pipeline predict)
	$(PIPELINE) predict --file $(or $(FILE),examples/predict.json)

queues: install ## depth of every work queue and its dead-letter queue (./pipeline queues)
	$(PIPELINE) queues

dlq: install ## what is in each dead-letter queue, left in place (./pipeline dlq list)
	$(PIPELINE) dlq list

redrive: install ## move a dead-letter queue back to its work queue after a fix: make redrive QUEUE=default
	$(PIPELINE) dlq redrive $(QUEUE)

work: install ## local: run the queue consumers until the work queues are empty (./pipeline work)
	$(PIPELINE) work

clean: ## remove generated output (keeps state/)
	rm -rf cdktf.out .build/model .build/cdktf.out.local-* .pytest_cache
