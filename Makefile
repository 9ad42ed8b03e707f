# The two commands a newcomer needs: `make up` (run the whole stack) and `make test` (every test).
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
UV := .local/bootstrap/bin/uv
export UV

.PHONY: help up down logs seed seed-scale bench faults status test lint format sync browser screenshots
.PHONY: compose-up compose-down compose-test test-containers test-native test-unit
.PHONY: k8s-build k8s-up k8s-test k8s-down
COMPOSE := docker compose --env-file .local/docker/compose.env

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(UV):
	@command -v python3 >/dev/null || { echo "python3 (3.11+) is required" >&2; exit 1; }
	python3 -m venv .local/bootstrap
	.local/bootstrap/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

sync: $(UV) ## install the workspace from uv.lock into .venv
	$(UV) sync --frozen --quiet

# The local runner (deploy/local, Python): `python -m deploy.local --help` lists what it does.
RUNNER := .venv/bin/python -m deploy.local

up: sync ## start Kafka, PostgreSQL, the SMTP sink, the three services and the gateway (:8080)
	@$(RUNNER) up

down: sync ## stop the services and everything `make up` or `make test` started
	@$(RUNNER) down

seed: ## load the demo job catalogue into the running jobs service (idempotent)
	@$(RUNNER) seed

seed-scale: sync ## the reference data set (3,000 jobs, 200,000 members, 5M views) into make up's databases
	$(RUNNER) infra start postgres
	.venv/bin/python -m bench.seed_scale

bench: sync ## every goal of the hospital scale, on the stack as make up runs it, as one table
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || \
		{ echo "bench needs wrk (Debian package wrk)" >&2; exit 1; }
	$(RUNNER) infra start
	$(RUNNER) tools
	.venv/bin/python -m bench

faults: sync ## the fault-injection and robustness suite alone, with its summary table
	$(RUNNER) infra start
	$(RUNNER) tools
	.venv/bin/pytest -m "faults or robustness" tests/faults tests/robustness

status: ## what is running
	@$(RUNNER) status

browser: sync ## the real-Chromium suite alone: the careers site through the gateway
	$(RUNNER) infra start
	$(UV) run --frozen pytest -m browser tests/browser

screenshots: sync ## remake docs/screenshots/*.png of the careers site
	$(RUNNER) infra start
	.venv/bin/python -m tests.browser.screenshots

compose-up: sync ## Docker: engine and plugins when missing, the images, the compose stack (health-gated)
	bash deploy/docker/engine.sh
	.venv/bin/python deploy/docker/images.py
	@t=$$SECONDS; $(COMPOSE) up --detach --no-build --wait --quiet-pull && \
		echo "compose up (healthy) in $$((SECONDS - t)) s" && $(COMPOSE) ps --format '{{.Service}}\t{{.Ports}}'

compose-down: ## stop the compose stack and delete its volumes
	@[[ ! -f .local/docker/compose.env ]] || $(COMPOSE) down --volumes --remove-orphans

compose-test: sync ## the compose end-to-end test against `make compose-up`'s stack (takes it down last)
	.venv/bin/pytest -m compose tests/compose

test-containers: sync ## the shared integration and email end-to-end tests on testcontainers
	bash deploy/docker/engine.sh
	.venv/bin/python deploy/docker/images.py --base
	TEST_INFRA=containers .venv/bin/pytest -m "integration" shared/tests tests/test_emails_end_to_end.py

k8s-build: sync ## Kubernetes: only build the cluster's binaries (Go; long from empty caches)
	.venv/bin/python -m deploy.cluster build

k8s-up: sync ## Kubernetes: a single-node cluster built here, the test overlay on it (as root)
	bash deploy/docker/engine.sh
	.venv/bin/python deploy/docker/images.py
	.venv/bin/python -m deploy.cluster up

k8s-test: sync ## the Kubernetes tests against `make k8s-up`'s cluster, their numbers printed (-s)
	.venv/bin/pytest -m k8s -s tests/k8s

k8s-down: sync ## stop the cluster; undo its mounts, interfaces, iptables rules and sysctls
	.venv/bin/python -m deploy.cluster down

logs: ## follow the services' logs
	@$(RUNNER) logs

lint: sync ## ruff and mypy
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy .

format: sync ## apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

test: sync ## every test, each stage timed: lint, unit, native, compose end to end, testcontainers
	bash deploy/test_stages.sh

# The tests that need no infrastructure, and the others. A test that uses the infrastructure
# fixture is marked integration by tests/support/fixtures.py; the unit run points Kafka and
# PostgreSQL at a port where nothing listens, so one that reached for them would fail.
UNIT := not integration and not browser and not compose and not faults and not robustness and not k8s
NATIVE := (integration or browser or faults or robustness) and not compose and not k8s

test-unit: sync ## the tests that need no infrastructure, nothing started (well under a minute)
	@$(RUNNER) tools
	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9 TEST_POSTGRES_URL=postgresql://nobody@127.0.0.1:9/none \
		$(UV) run --frozen pytest -m "$(UNIT)"

test-native: sync ## the tests that need the local infrastructure (started when needed)
	$(RUNNER) test -m "$(NATIVE)"
