#!/usr/bin/env bash
# `make run`: the whole product on http://localhost:8000 with no manual steps.
# Preflight: database (found or started), frontend build (when stale), release binaries,
# migrations; then model-service, worker-service and gateway, logs prefixed per service.
# Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -f .env ] && { set -a; source .env; set +a; }
source scripts/lib/db.sh
source scripts/lib/run_env.sh

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

step "database"
ensure_database_server

if command -v npm >/dev/null 2>&1; then
  step "frontend"
  bash scripts/build_frontend.sh || echo "[run] frontend build failed; the API still runs (see above)" >&2
else
  echo "[run] npm not found: the UI is not built (the API still runs). Install Node.js 20+ for the UI." >&2
fi

step "building services (release)"
cargo build --release --bins --locked

BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
step "migrations"
"$BIN/gateway" --migrate-only

# Accounts are on by default: the token-signing secret is generated once and kept in the
# local data directory (never in the repository).
if [ "${AUTH_MODE:-jwt}" = jwt ] && [ -z "${JWT_SECRET:-}" ]; then
  mkdir -p .data/secrets && chmod 700 .data/secrets
  if [ ! -s .data/secrets/jwt_secret ]; then
    (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n=' > .data/secrets/jwt_secret)
    FIRST_START=1
  fi
  JWT_SECRET="$(cat .data/secrets/jwt_secret)"
  export JWT_SECRET
fi

# The model and worker services answer only callers with the internal token: generated once
# into the local data directory like the signing secret, and given to all three services.
if [ -z "${INTERNAL_TOKEN:-}" ]; then
  mkdir -p .data/secrets && chmod 700 .data/secrets
  if [ ! -s .data/secrets/internal_token ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .data/secrets/internal_token)
  fi
  INTERNAL_TOKEN="$(cat .data/secrets/internal_token)"
fi
export INTERNAL_TOKEN

# The gateway answers only localhost, 127.0.0.1 and [::1] unless ALLOWED_HOSTS says otherwise
# (scripts/lib/run_env.sh).
run_env_defaults
export MODEL_SERVICE_URL="${MODEL_SERVICE_URL:-http://127.0.0.1:8001}"
export WORKER_SERVICE_URL="${WORKER_SERVICE_URL:-http://127.0.0.1:8002}"
export DOCS_ROOT="${DOCS_ROOT:-$ROOT}"
if [ -z "${FRONTEND_DIR:-}" ] && [ -f frontend/dist/index.html ]; then
  export FRONTEND_DIR="$ROOT/frontend/dist"
fi

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo; step "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

start() { # name binary
  local name=$1 bin=$2
  # Provider keys (from .env) reach the model service only.
  run_service "$name" "$BIN/$bin" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

step "starting services"
start model model-service
start worker worker-service
start gateway gateway

# Wait until the gateway answers, then show where things are.
for _ in $(seq 1 100); do
  curl -fsS --max-time 1 http://127.0.0.1:8000/health >/dev/null 2>&1 && break
  sleep 0.1
done
cat <<MSG

  Sable is running:
    UI            http://localhost:8000/
    API docs      http://localhost:8000/docs
    Health        http://localhost:8000/health  (readiness: /health/ready)
  Ctrl-C stops everything.

MSG
if [ "${AUTH_MODE:-jwt}" = jwt ] && [ "${FIRST_START:-0}" = 1 ]; then
  cat <<MSG
  First start: create your account at http://localhost:8000/ (the first one is the admin),
  or from a shell:
    curl -s localhost:8000/api/v1/auth/register -H 'content-type: application/json' \\
      -d '{"email":"you@example.com","password":"at least 10 characters"}'
  then sign in (POST /api/v1/auth/login with the same body) for an access token.

MSG
fi
wait -n "${pids[@]}" || true
echo "[run] a service exited; stopping the others" >&2
