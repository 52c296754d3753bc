#!/usr/bin/env bash
# Runs the production nginx configuration in front of the real Sable stack, without Docker.
#
#   edge nginx   infra/nginx/nginx.conf  on 127.0.0.1:$EDGE_PORT   (compose: nginx, :80 -> 8080)
#   frontend     frontend/nginx.conf     on 127.0.0.1:$FRONT_PORT  (compose: frontend:8080)
#   gateway / model-service / worker-service: target/debug binaries on $GW_PORT/$MS_PORT/$WS_PORT
#   Postgres: a fresh database from scripts/lib/db.sh
#
# The two config files are copied and rewritten ONLY where a container address cannot work on
# this machine; every other line is used as written, and the script fails if the rewrite
# touched anything else:
#   1. `server gateway:8000;` / `server frontend:8080;`  -> 127.0.0.1:<local port>  (upstreams)
#   2. `listen 8080 ...`                                 -> 127.0.0.1:<local port>  (two nginx on one host)
#   3. `/tmp/...` (pid file, temp dirs)                  -> <temp dir>/...           (private, removable)
#   4. frontend only: `root /usr/share/nginx/html;`      -> frontend/dist            (where the build is)
# Logs go to stdout/stderr as in the containers, redirected to files in the temp dir.
#
# Then scripts/deploy/nginx_assertions.py checks: SPA and client-route fallback, cache and
# security headers, gzip, gateway routes, request ids, /api/v1/generate, jobs, the 1 MiB
# limit (413 envelope), SSE arriving incrementally (mock: 0 ms first token, 50 ms per token),
# upstream keep-alive, and the JSON 503 when the gateway is down; then, when Chromium and
# playwright-core are installed, scripts/deploy/csp_check.mjs loads the SPA through nginx and
# fails on any Content-Security-Policy violation.
#
# Usage: scripts/test_nginx.sh        Env: SKIP_BUILD=1 (binaries and frontend/dist exist),
#        KEEP_TMP=1 (keep logs), EDGE_PORT, FRONT_PORT, GW_PORT, MS_PORT, WS_PORT.
# Exit status 0 when every assertion passes. Everything started here is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
EDGE_PORT=${EDGE_PORT:-19080}
FRONT_PORT=${FRONT_PORT:-19081}
GW_PORT=${GW_PORT:-19000}
MS_PORT=${MS_PORT:-19001}
WS_PORT=${WS_PORT:-19002}
BIN_DIR=${SABLE_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}
DIST=$ROOT/frontend/dist

T=$(mktemp -d "${TMPDIR:-/tmp}/sable-nginx-test.XXXXXX")
chmod 755 "$T" # nginx workers (nobody, when started as root) must reach their temp dirs
PIDS=()
TEST_DB_URL=""
status=1

log() { printf '[test_nginx %3ds] %s\n' "$SECONDS" "$*"; }

cleanup() {
    local rc=$?
    [ "$status" -eq 0 ] || rc=1
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$TEST_DB_URL" ]; then
        local name=${TEST_DB_URL##*/}
        psql "${TEST_DB_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    if [ "$rc" -ne 0 ]; then
        for f in "$T"/*.log; do
            [ -f "$f" ] || continue
            echo "---- last lines of ${f##*/}"
            tail -n 15 "$f"
        done
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        log "logs kept in $T"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

# ---- prerequisites ---------------------------------------------------------------------
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
    log "installing Debian's nginx"
    as_root apt-get update >/dev/null 2>&1 || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >/dev/null \
        || { log "nginx is missing and cannot be installed (need root or sudo)"; exit 1; }
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
for tool in ss:iproute2 curl:curl psql:postgresql-client; do
    command -v "${tool%%:*}" >/dev/null 2>&1 ||
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${tool#*:}" >/dev/null 2>&1 || true
done
log "$("$NGINX" -v 2>&1)"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "cargo build --bins"
    cargo build --quiet --bins
    if [ ! -f "$DIST/index.html" ]; then
        log "building the frontend"
        (cd frontend && { [ -d node_modules ] || npm ci --no-audit --no-fund || npm install --no-audit --no-fund; } && npm run build) >"$T/frontend-build.log" 2>&1
    fi
fi
for bin in gateway model-service worker-service; do
    [ -x "$BIN_DIR/$bin" ] || { log "missing $BIN_DIR/$bin (run cargo build --bins)"; exit 1; }
done
[ -f "$DIST/index.html" ] || { log "missing $DIST/index.html (build the frontend)"; exit 1; }

for port in "$EDGE_PORT" "$FRONT_PORT" "$GW_PORT" "$MS_PORT" "$WS_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        log "port $port is already in use; set EDGE_PORT/FRONT_PORT/GW_PORT/MS_PORT/WS_PORT"
        exit 1
    fi
done

# ---- configs ---------------------------------------------------------------------------
# $1 source, $2 dest, $3 temp dir for /tmp, $4 listen port, rest: extra sed expressions.
rewrite() {
    local src=$1 dst=$2 tmp=$3 port=$4
    shift 4
    mkdir -p "$tmp"
    sed -e "s#/tmp/#$tmp/#g" \
        -e "s#^\([[:space:]]*listen[[:space:]]\{1,\}\)8080\([[:space:]]\)#\1127.0.0.1:$port\2#" \
        "$@" "$src" >"$dst"
    # Every changed line must be one of the documented rewrites.
    local extra
    extra=$(diff <(sed 's/^/ /' "$src") <(sed 's/^/ /' "$dst") | grep '^>' |
        grep -vE "/tmp|$tmp|listen[[:space:]]+127\.0\.0\.1:$port|server[[:space:]]+127\.0\.0\.1:[0-9]+;|root[[:space:]]+$DIST;" || true)
    if [ -n "$extra" ]; then
        log "rewrite of $src changed more than allowed:"
        echo "$extra"
        exit 1
    fi
    log "$src: $(diff "$src" "$dst" | grep -c '^>') lines rewritten (upstream/listen/tmp/root only)"
}

rewrite infra/nginx/nginx.conf "$T/edge.conf" "$T/edge" "$EDGE_PORT" \
    -e "s#^\([[:space:]]*server[[:space:]]\{1,\}\)gateway:8000;#\1127.0.0.1:$GW_PORT;#" \
    -e "s#^\([[:space:]]*server[[:space:]]\{1,\}\)frontend:8080;#\1127.0.0.1:$FRONT_PORT;#"
rewrite frontend/nginx.conf "$T/frontend.conf" "$T/frontend" "$FRONT_PORT" \
    -e "s#^\([[:space:]]*root[[:space:]]\{1,\}\)/usr/share/nginx/html;#\1$DIST;#"
grep -q "127.0.0.1:$GW_PORT;" "$T/edge.conf" && grep -q "127.0.0.1:$FRONT_PORT;" "$T/edge.conf" ||
    { log "the upstream rewrite did not apply (did the upstream names change?)"; exit 1; }

for conf in edge frontend; do
    "$NGINX" -t -q -e "$T/$conf-nginx-startup.log" -c "$T/$conf.conf"
done
log "nginx -t: both configurations are valid"

# ---- start -----------------------------------------------------------------------------
wait_http() { # url, seconds
    local url=$1 deadline=$((SECONDS + $2))
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        [ $SECONDS -lt "$deadline" ] || { log "timed out waiting for $url"; return 1; }
        sleep 0.2
    done
}

"$NGINX" -e "$T/frontend-nginx-startup.log" -c "$T/frontend.conf" -g 'daemon off;' >"$T/frontend-nginx.log" 2>&1 &
PIDS+=($!)
"$NGINX" -e "$T/edge-nginx-startup.log" -c "$T/edge.conf" -g 'daemon off;' >"$T/edge-nginx.log" 2>&1 &
PIDS+=($!)

# shellcheck source=lib/db.sh
source scripts/lib/db.sh
ensure_database_server >/dev/null
TEST_DB_URL=$(create_fresh_database sable_nginx_test)
log "database ${TEST_DB_URL##*/}"

# The services run from the temp dir so no .env from the checkout leaks in (dotenv reads the
# working directory and its parents), with the environment reduced to what they need.
run_service() { # name, env...
    local name=$1
    shift
    (cd "$T" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" LOG_FORMAT=json RUST_LOG=warn "$@" "$BIN_DIR/$name") \
        >"$T/$name.log" 2>&1 &
    PIDS+=($!)
}
# As in compose, the services only answer each other (INTERNAL_TOKEN).
INTERNAL_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
# The gateway owns the schema: migrate first, or the worker waits for it.
(cd "$T" && env -i PATH="$PATH" HOME="${HOME:-/tmp}" DATABASE_URL="$TEST_DB_URL" "$BIN_DIR/gateway" --migrate-only) \
    >"$T/migrate.log" 2>&1
run_service model-service MODEL_SERVICE_ADDR="127.0.0.1:$MS_PORT" PROVIDER=mock \
    MOCK_FIRST_TOKEN_DELAY_MS=0 MOCK_TOKEN_DELAY_MS=50 INTERNAL_TOKEN="$INTERNAL_TOKEN"
run_service worker-service WORKER_SERVICE_ADDR="127.0.0.1:$WS_PORT" DATABASE_URL="$TEST_DB_URL" \
    MODEL_SERVICE_URL="http://127.0.0.1:$MS_PORT" INTERNAL_TOKEN="$INTERNAL_TOKEN"
wait_http "http://127.0.0.1:$MS_PORT/health" 60
# Behind nginx the frontend nginx serves the UI, as in compose; FRONTEND_DIR is set anyway so
# the UI the gateway serves itself (`make run`) gets the same browser check below (nginx never
# routes `/` to the gateway). AUTH_MODE=off: this checks nginx in front of the gateway;
# accounts are covered by the Rust and browser tests.
run_service gateway GATEWAY_ADDR="127.0.0.1:$GW_PORT" DATABASE_URL="$TEST_DB_URL" AUTH_MODE=off \
    MODEL_SERVICE_URL="http://127.0.0.1:$MS_PORT" WORKER_SERVICE_URL="http://127.0.0.1:$WS_PORT" \
    DOCS_ROOT="$ROOT" FRONTEND_DIR="$DIST" INTERNAL_TOKEN="$INTERNAL_TOKEN"
GATEWAY_PID=${PIDS[-1]}
wait_http "http://127.0.0.1:$GW_PORT/health" 60
# The worker answers once the gateway has migrated the database it waits for.
wait_http "http://127.0.0.1:$WS_PORT/health" 60
wait_http "http://127.0.0.1:$EDGE_PORT/nginx-health" 10
wait_http "http://127.0.0.1:$FRONT_PORT/nginx-health" 10
log "stack up: edge :$EDGE_PORT -> gateway :$GW_PORT, frontend :$FRONT_PORT"

# ---- assertions ------------------------------------------------------------------------
python3 scripts/deploy/nginx_assertions.py "http://127.0.0.1:$EDGE_PORT" "$DIST" --gateway-port "$GW_PORT"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ] && [ -f frontend/node_modules/playwright-core/package.json ]; then
    echo "== the SPA in Chromium through nginx (Content-Security-Policy)"
    CHROMIUM="$CHROMIUM" timeout 180 node scripts/deploy/csp_check.mjs "http://127.0.0.1:$EDGE_PORT"
    echo "== the SPA in Chromium served by the gateway itself (make run; Content-Security-Policy)"
    CHROMIUM="$CHROMIUM" timeout 180 node scripts/deploy/csp_check.mjs "http://127.0.0.1:$GW_PORT"
else
    log "SKIP browser CSP check (needs $CHROMIUM and frontend/node_modules/playwright-core)"
fi
kill "$GATEWAY_PID"
wait "$GATEWAY_PID" 2>/dev/null || true
python3 scripts/deploy/nginx_assertions.py "http://127.0.0.1:$EDGE_PORT" "$DIST" --phase gateway-down

if grep -h '\[emerg\]\|\[alert\]' "$T"/*nginx*.log | grep -v 'setrlimit\|could not open error log' >"$T/nginx-problems.txt"; then
    log "nginx reported problems:"
    cat "$T/nginx-problems.txt"
    exit 1
fi
status=0
log "PASS"
