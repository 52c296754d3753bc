#!/usr/bin/env bash
# Frontend checks, in order: dependencies (npm ci), typecheck, Vitest, production build and
# bundle budget, then the Playwright (playwright-core + Debian chromium) suite against the
# real stack: gateway, model-service (mock provider) and worker-service on 18000-18002 with a
# fresh database. Screenshots land in frontend/test-output/.
#
#   SKIP_E2E=1            stop after the build (no browser, no services)
#   SKIP_CARGO_BUILD=1    use the existing target/debug binaries
#   E2E_PORT_BASE=18000   gateway port; model and worker use +1 and +2
#   E2E_OUT, E2E_DIST        screenshot/log folder and build folder (default test-output/, dist/)
#   E2E_ONLY="e2e/x.spec.mjs" run only these browser test files
#   E2E_AUTH_MODE=jwt     the gateway's AUTH_MODE (jwt: the suite signs up and checks accounts;
#                         off: the single-user UI without sign-in, the accounts tests are skipped)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FE="$ROOT/frontend"
# E2E_OUT and E2E_DIST let two runs on one machine (different E2E_PORT_BASE) keep apart.
OUT="${E2E_OUT:-$FE/test-output}"
DIST="${E2E_DIST:-$FE/dist}"

step() { printf '\033[1m==> [frontend] %s\033[0m\n' "$*"; }
die() { echo "[frontend] $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 20+"

cd "$FE"
# npm ci wipes node_modules first: outside CI it runs only when the lockfile changed since the
# last install, so a second run on the same checkout does not pull the packages from under it.
if [ "${CI:-}" = true ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
else
  step "node_modules is up to date with package-lock.json (npm ci skipped)"
fi

step "typecheck"
npm run --silent typecheck

step "unit tests (vitest)"
npx vitest run

step "build"
npm run --silent build -- --logLevel warn --outDir "$DIST" --emptyOutDir
DIST="$DIST" node tools/bundle-size.mjs

if [ "${SKIP_E2E:-0}" = 1 ]; then
  step "SKIP_E2E=1: browser tests skipped"
  exit 0
fi

# --- browser -------------------------------------------------------------------------------
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  step "installing Debian chromium"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  [ -x "$CHROMIUM" ] || die "chromium is still missing at $CHROMIUM"
fi

# --- backend -------------------------------------------------------------------------------
cd "$ROOT"
if [ "${SKIP_CARGO_BUILD:-0}" != 1 ]; then
  step "cargo build --bins"
  cargo build --bins
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
for b in gateway model-service worker-service; do
  [ -x "$BIN/$b" ] || die "missing $BIN/$b (cargo build --bins)"
done

step "generated API types match the gateway's OpenAPI document"
GATEWAY_BIN="$BIN/gateway" bash "$FE/tools/check-api-types.sh"

step "database"
# shellcheck source=lib/db.sh
source "$ROOT/scripts/lib/db.sh"
ensure_database_server
E2E_DATABASE_URL="$(create_fresh_database sable_e2e)"
E2E_DB_NAME="${E2E_DATABASE_URL##*/}"
E2E_DB_NAME="${E2E_DB_NAME%%\?*}"

PORT_BASE="${E2E_PORT_BASE:-18000}"
GW_PORT=$PORT_BASE
MODEL_PORT=$((PORT_BASE + 1))
WORKER_PORT=$((PORT_BASE + 2))
LOGDIR="$OUT/logs"
rm -rf "$OUT"
mkdir -p "$LOGDIR"

pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql "$(_admin_url "$DATABASE_URL")" -qc "DROP DATABASE IF EXISTS \"$E2E_DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then
    echo "[frontend] e2e failed (exit $rc); service logs:" >&2
    for f in "$LOGDIR"/*.log; do [ -f "$f" ] && { echo "--- $f (last 30 lines)" >&2; tail -n 30 "$f" >&2; }; done
  fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

start() { # name binary [env...]
  local name=$1 bin=$2
  shift 2
  env "$@" RUST_LOG="${RUST_LOG:-info}" "$BIN/$bin" >"$LOGDIR/$name.log" 2>&1 &
  pids+=($!)
}

wait_healthy() { # name port
  local name=$1 port=$2
  for _ in $(seq 1 150); do
    curl -fsS --max-time 1 "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || die "a service exited during start-up (waiting for $name)"
    done
    sleep 0.2
  done
  die "$name did not become healthy on :$port"
}

step "starting services on :$GW_PORT-:$WORKER_PORT"
# Migrations first (when the gateway supports it), so the services start on a migrated schema.
DATABASE_URL="$E2E_DATABASE_URL" "$BIN/gateway" --migrate-only >"$LOGDIR/migrate.log" 2>&1 || true

# Two mock providers from a providers file (picker groups, the admin Providers page, cost by
# model); E2E_PROVIDERS_FILE= runs the single mock provider of the settings instead.
PROVIDERS_FILE_FOR_E2E="${E2E_PROVIDERS_FILE-$FE/e2e/providers.toml}"
start model model-service \
  DATABASE_URL="$E2E_DATABASE_URL" MODEL_SERVICE_ADDR="127.0.0.1:$MODEL_PORT" PROVIDER=mock \
  ${PROVIDERS_FILE_FOR_E2E:+PROVIDERS_FILE="$PROVIDERS_FILE_FOR_E2E"} \
  MOCK_FIRST_TOKEN_DELAY_MS="${MOCK_FIRST_TOKEN_DELAY_MS:-60}" MOCK_TOKEN_DELAY_MS="${MOCK_TOKEN_DELAY_MS:-30}"
wait_healthy model-service "$MODEL_PORT"
start worker worker-service \
  DATABASE_URL="$E2E_DATABASE_URL" WORKER_SERVICE_ADDR="127.0.0.1:$WORKER_PORT" \
  MODEL_SERVICE_URL="http://127.0.0.1:$MODEL_PORT"
wait_healthy worker-service "$WORKER_PORT"
start gateway gateway \
  DATABASE_URL="$E2E_DATABASE_URL" GATEWAY_ADDR="127.0.0.1:$GW_PORT" \
  MODEL_SERVICE_URL="http://127.0.0.1:$MODEL_PORT" WORKER_SERVICE_URL="http://127.0.0.1:$WORKER_PORT" \
  FRONTEND_DIR="$DIST" DOCS_ROOT="$ROOT" AUTH_MODE="${E2E_AUTH_MODE:-jwt}" \
  JWT_SECRET="e2e-$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')" \
  RATE_LIMIT_AUTH_PER_MINUTE=600 # every page load refreshes the session; the suite loads many pages
wait_healthy gateway "$GW_PORT"

# The first account of a stack is its administrator. It is made here, before any suite, so
# that every suite knows it (E2E_ADMIN_EMAIL / E2E_ADMIN_PASSWORD) and the admin-only views
# (the dashboard's live charts) are always tested, whichever suite runs first.
E2E_ADMIN_EMAIL="admin-$(date +%s)@example.com"
E2E_ADMIN_PASSWORD="e2e-admin-$(head -c 12 /dev/urandom | base64 | tr -d '\n/+=')"
if [ "${E2E_AUTH_MODE:-jwt}" = jwt ]; then
  curl -fsS --max-time 10 -o /dev/null -H 'content-type: application/json' \
    -d "{\"email\":\"$E2E_ADMIN_EMAIL\",\"password\":\"$E2E_ADMIN_PASSWORD\",\"display_name\":\"E2E Admin\"}" \
    "http://127.0.0.1:$GW_PORT/api/v1/auth/register" || die "could not create the e2e admin account"
fi
export E2E_ADMIN_EMAIL E2E_ADMIN_PASSWORD

step "browser tests (playwright-core + $CHROMIUM)"
cd "$FE"
# run.mjs is the main walk-through; each e2e/*.spec.mjs opens its own browser and user.
# E2E_ONLY="e2e/chat.spec.mjs" runs just the named files (while working on one area).
shopt -s nullglob
specs=(e2e/run.mjs e2e/*.spec.mjs)
shopt -u nullglob
if [ -n "${E2E_ONLY:-}" ]; then read -r -a specs <<<"$E2E_ONLY"; fi
E2E_BASE_URL="http://127.0.0.1:$GW_PORT" E2E_OUT="$OUT" CHROMIUM="$CHROMIUM" \
  node --test --test-reporter=spec --test-concurrency=1 "${specs[@]}"
step "screenshots: $(ls "$OUT"/*.png 2>/dev/null | tr '\n' ' ')"
