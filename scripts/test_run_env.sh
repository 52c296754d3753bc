#!/usr/bin/env bash
# What `make run` gives each service (scripts/lib/run_env.sh, used by scripts/run_all.sh),
# checked without starting anything:
#   - ALLOWED_HOSTS defaults to localhost,127.0.0.1,[::1]; a value the caller set (even empty)
#     is kept;
#   - provider keys (*_API_KEY) reach the model service and not the gateway or the workers;
#   - run_all.sh really uses both (it sources the file, applies the defaults, starts each
#     service through run_service).
# Then a real gateway binary, when one is built, started with that environment refuses a
# foreign Host (DNS rebinding) and serves localhost.
# Usage: scripts/test_run_env.sh     Exit status 0 when everything passes.
set -euo pipefail
cd "$(dirname "$0")/.."

pass=0
fail=0
ok() { pass=$((pass + 1)); printf '  ok   %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf '  FAIL %s\n' "$*"; }
check() { # description expected actual
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected [$2], got [$3]"; fi
}

echo "== make run's environment"
got=$(env -u ALLOWED_HOSTS bash -c 'source scripts/lib/run_env.sh; run_env_defaults; printf %s "$ALLOWED_HOSTS"')
check "ALLOWED_HOSTS defaults to the local names" 'localhost,127.0.0.1,[::1]' "$got"
got=$(ALLOWED_HOSTS= bash -c 'source scripts/lib/run_env.sh; run_env_defaults; printf "[%s]" "$ALLOWED_HOSTS"')
check "ALLOWED_HOSTS set empty stays empty (any host)" '[]' "$got"
got=$(ALLOWED_HOSTS=chat.lan bash -c 'source scripts/lib/run_env.sh; run_env_defaults; printf %s "$ALLOWED_HOSTS"')
check "ALLOWED_HOSTS set by the caller is kept" 'chat.lan' "$got"

keys='OPENAI_API_KEY=sk-one GROQ_API_KEY=gsk-two MY_PROVIDER_API_KEY=three'
for svc in gateway worker; do
  got=$(env $keys bash -c "source scripts/lib/run_env.sh; run_service $svc env" | grep -c '_API_KEY=' || true)
  check "no provider key in the $svc's environment" 0 "$got"
done
got=$(env $keys bash -c 'source scripts/lib/run_env.sh; run_service model env' | grep -c '_API_KEY=' || true)
check "the model service gets the provider keys" 3 "$got"
got=$(env $keys INTERNAL_TOKEN=t bash -c 'source scripts/lib/run_env.sh; run_service gateway env' | grep -c '^INTERNAL_TOKEN=t$' || true)
check "other settings reach the gateway" 1 "$got"

grep -q '^source scripts/lib/run_env.sh' scripts/run_all.sh && grep -q '^run_env_defaults' scripts/run_all.sh \
  && grep -q 'run_service "$name"' scripts/run_all.sh \
  && ok "scripts/run_all.sh applies the defaults and starts each service through run_service" \
  || bad "scripts/run_all.sh does not use scripts/lib/run_env.sh (defaults and run_service)"

# The gateway started as `make run` starts it (when a build exists; `make test` has built one).
GATEWAY_BIN=${GATEWAY_BIN:-}
for b in target/debug/gateway target/release/gateway; do
  [ -z "$GATEWAY_BIN" ] && [ -x "$b" ] && GATEWAY_BIN=$b
done
if [ -n "$GATEWAY_BIN" ]; then
  echo "== $GATEWAY_BIN with make run's ALLOWED_HOSTS"
  source scripts/lib/db.sh
  ensure_database_server
  DB_URL=$(create_fresh_database sable_test_runenv)
  PORT=${RUN_ENV_TEST_PORT:-18390}
  log=$(mktemp)
  env -u ALLOWED_HOSTS DATABASE_URL="$DB_URL" bash -c "source scripts/lib/run_env.sh; run_env_defaults; \
    GATEWAY_ADDR=127.0.0.1:$PORT AUTH_MODE=off RATE_LIMIT=off run_service gateway '$GATEWAY_BIN'" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do curl -fsS --max-time 1 "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
  for host in localhost "localhost:$PORT" "127.0.0.1:$PORT" "[::1]:$PORT"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "host: $host" "http://127.0.0.1:$PORT/api/v1/chat/sessions" || true)
    check "Host: $host is served" 200 "$code"
  done
  for host in evil.example "evil.example:$PORT" "192.168.1.10:$PORT"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "host: $host" "http://127.0.0.1:$PORT/api/v1/chat/sessions" || true)
    check "Host: $host is refused (DNS rebinding)" 400 "$code"
  done
  [ "$fail" -eq 0 ] || tail -n 20 "$log" | sed 's/^/       /'
  kill $(pgrep -P "$pid") "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
  psql "$(_admin_url "$DATABASE_URL")" -qc "DROP DATABASE IF EXISTS \"${DB_URL##*/}\" WITH (FORCE)" >/dev/null 2>&1 || true
else
  echo "  (no gateway build: the live check is skipped)"
fi

echo "test_run_env: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
