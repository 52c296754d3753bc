#!/usr/bin/env bash
# Bad input at scale (issue 12.7): schemathesis generates requests for every operation of the
# gateway's own OpenAPI document and checks that none answers 5xx, that every answer matches
# the documented schema, and that none hangs. The real stack (mock provider) on fresh ports
# and a fresh database, accounts on (a signed-in user's token), rate limits off.
#
#   SCHEMATHESIS_EXAMPLES=25   examples per operation (bounded: this runs in `make test`)
#   SKIP_CARGO_BUILD=1         use the existing target/debug binaries
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source scripts/lib/db.sh
step() { printf '\033[1m==> [schemathesis] %s\033[0m\n' "$*"; }

VENV=.data/venv-schemathesis
if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
  step "installing schemathesis (PyPI) into $VENV"
  python3 -m venv "$VENV"
  # hypothesis is pinned: newer releases dropped an API hypothesis-jsonschema still uses.
  "$VENV/bin/pip" install -q --disable-pip-version-check 'schemathesis==3.39.16' 'hypothesis==6.115.0'
fi
[ "${SKIP_CARGO_BUILD:-0}" = 1 ] || cargo build -q --bins
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

ensure_database_server
DB_URL="$(create_fresh_database sable_schemathesis)"
DB_NAME="${DB_URL##*/}"; DB_NAME="${DB_NAME%%\?*}"
BASE=${SCHEMATHESIS_PORT_BASE:-18300}
OUT="$ROOT/target/schemathesis"
rm -rf "$OUT"; mkdir -p "$OUT"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$(_admin_url "$DATABASE_URL")" -qc "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
  [ "$rc" = 0 ] || { echo "[schemathesis] failed; service logs in $OUT" >&2; tail -n 20 "$OUT"/*.log >&2 || true; }
  exit "$rc"
}
trap cleanup EXIT INT TERM
wait_up() { for _ in $(seq 1 150); do curl -fsS --max-time 1 "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "$1 did not come up" >&2; return 1; }

DATABASE_URL="$DB_URL" "$BIN/gateway" --migrate-only >"$OUT/migrate.log" 2>&1
MODEL_SERVICE_ADDR=127.0.0.1:$((BASE+1)) PROVIDER=mock MOCK_FIRST_TOKEN_DELAY_MS=0 MOCK_TOKEN_DELAY_MS=0 \
  RUST_LOG=warn "$BIN/model-service" >"$OUT/model.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$((BASE+1))/health"
WORKER_SERVICE_ADDR=127.0.0.1:$((BASE+2)) DATABASE_URL="$DB_URL" MODEL_SERVICE_URL=http://127.0.0.1:$((BASE+1)) \
  RUST_LOG=warn "$BIN/worker-service" >"$OUT/worker.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$((BASE+2))/health"
GATEWAY_ADDR=127.0.0.1:$BASE DATABASE_URL="$DB_URL" MODEL_SERVICE_URL=http://127.0.0.1:$((BASE+1)) \
  WORKER_SERVICE_URL=http://127.0.0.1:$((BASE+2)) AUTH_MODE=jwt JWT_SECRET="schemathesis-only-$(head -c 24 /dev/urandom | base64)" \
  RATE_LIMIT=off DOCS_ROOT="$ROOT" RUST_LOG=warn "$BIN/gateway" >"$OUT/gateway.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$BASE/health"

# Registration answers 202 without tokens (it does not reveal accounts): sign in after it.
curl -fsS -o /dev/null "http://127.0.0.1:$BASE/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"fuzz@example.com","password":"correct horse battery"}'
TOKEN=$(curl -fsS "http://127.0.0.1:$BASE/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"fuzz@example.com","password":"correct horse battery"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

step "every operation of /openapi.json, ${SCHEMATHESIS_EXAMPLES:-25} examples each"
# logout and logout-all would end the fuzzer's own sign-in; the admin-only and auth endpoints are covered
# by the Rust tests. Streams are checked for status and headers only (their body is SSE).
"$VENV/bin/schemathesis" run "http://127.0.0.1:$BASE/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --hypothesis-max-examples "${SCHEMATHESIS_EXAMPLES:-25}" \
  --hypothesis-deadline 15000 --request-timeout 15000 \
  --hypothesis-derandomize --experimental=openapi-3.1 \
  --exclude-path /api/v1/auth/logout \
  --exclude-path /api/v1/auth/logout-all \
  -H "Authorization: Bearer $TOKEN" \
  --no-color --show-trace 2>&1 | tee "$OUT/report.txt"

# Stateful: schemathesis follows the document's links (what one operation creates, the next
# reads, changes, deletes: scripts/lib/openapi_links.py adds them to a copy of the document),
# so sequences run with ids that exist, not only random ones. Bounded: at most
# SCHEMATHESIS_STATEFUL_EXAMPLES state machine runs, and SCHEMATHESIS_STATEFUL_SECS in all.
step "stateful: link sequences (create -> read / change / delete), ${SCHEMATHESIS_STATEFUL_EXAMPLES:-25} runs"
curl -fsS "http://127.0.0.1:$BASE/openapi.json" -o "$OUT/openapi.json"
python3 scripts/lib/openapi_links.py "$OUT/openapi.json" "$OUT/openapi-links.json"
PYTHONWARNINGS=ignore timeout "${SCHEMATHESIS_STATEFUL_SECS:-300}" "$VENV/bin/schemathesis" run "$OUT/openapi-links.json" \
  --base-url "http://127.0.0.1:$BASE" \
  --include-path-regex '^/api/v1/(chat/sessions|jobs|auth/keys|collections)' \
  --experimental=stateful-test-runner --experimental=stateful-only --experimental=openapi-3.1 --stateful=links \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --hypothesis-max-examples "${SCHEMATHESIS_STATEFUL_EXAMPLES:-25}" \
  --hypothesis-deadline 15000 --request-timeout 15000 --hypothesis-derandomize \
  --exclude-path /api/v1/auth/logout \
  --exclude-path /api/v1/auth/logout-all \
  -H "Authorization: Bearer $TOKEN" \
  --no-color --show-trace 2>&1 | tee "$OUT/report-stateful.txt"
# A run that followed no link tested nothing.
if grep -q "No checks were performed" "$OUT/report-stateful.txt" || ! grep -q "Performed checks" "$OUT/report-stateful.txt"; then
  echo "[schemathesis] the stateful run performed no checks" >&2
  exit 1
fi
