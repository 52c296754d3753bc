#!/usr/bin/env bash
# Instruction counts of the model service's provider path (valgrind --tool=callgrind), which
# are repeatable on a busy shared machine where wall-clock figures are not.
# For each provider (mock, openai → fake-openai) the model service runs under callgrind once
# per workload; instructions per request / per token are differences between workloads:
#   idle                         one health check and shutdown (counting starts once ready)
#   sync  N                      N whole completions (POST /inference, max_tokens 32)
#   sse   S × 1, S × 256         S streams of 1 and of 256 tokens (POST /inference/stream)
# per request = (sync − idle) / N; per stream = (sse×1 − idle) / S;
# per token = (sse×256 − sse×1) / (S × 255).
# Then the gateway (AUTH_MODE=off RATE_LIMIT=off, fresh database) runs under callgrind the same
# way in front of an uninstrumented model service with the zero-delay mock: the gateway's own
# instructions per sync request (POST /api/v1/generate), per stream and per relayed token.
# Output: bench-output/profile/{summary.md, *.callgrind, *.annotate.txt}.
#   PROFILE_REQUESTS (default 2000), PROFILE_STREAMS (default 100)
#   PROFILE_ONLY=model-service|gateway   one of the two sections
#   PROFILE_PROVIDERS (default "mock openai")  the model service's providers to profile
#   PROFILE_PORT_BASE (default 18900)    four ports from here (several profiles on one machine)
#   PROFILE_H2C=1                        the openai provider speaks HTTP/2 to fake-openai (h2c,
#                                        OPENAI_HTTP2_PRIOR_KNOWLEDGE=true); default HTTP/1.1
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=bench-output/profile; mkdir -p "$OUT"
N="${PROFILE_REQUESTS:-2000}"; S="${PROFILE_STREAMS:-100}"
ONLY="${PROFILE_ONLY:-}"
[ "${PROFILE_SKIP_BUILD:-0}" = 1 ] || cargo build --release --locked --bins -p gateway -p model-service -p bench -p fake-openai
BIN="$ROOT/target/release"
PORT_BASE="${PROFILE_PORT_BASE:-18900}"
FAKE_PORT=$((PORT_BASE + 3)); MS_PORT=$((PORT_BASE + 1)); GW_PORT=$PORT_BASE
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$BIN/fake-openai" --addr 127.0.0.1:$FAKE_PORT >"$OUT/fake.log" 2>&1 & pids+=($!)

wait_ready() { for _ in $(seq 1 600); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# run <provider> <workload> <args…>: one callgrind session; prints its total instructions.
# provider mock / openai: the model service; gateway: the gateway (in front of $MS_PORT).
run() {
  local provider=$1 workload=$2; shift 2
  local -a env_service
  local service=model-service port=$MS_PORT
  case "$provider" in
    mock) env_service=(PROVIDER=mock MOCK_FIRST_TOKEN_DELAY_MS=0 MOCK_TOKEN_DELAY_MS=0) ;;
    openai) env_service=(PROVIDER=openai OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1 OPENAI_API_KEY=bench
                         DEFAULT_MODEL=bench FALLBACK_MODEL= MODELS=
                         OPENAI_HTTP2_PRIOR_KNOWLEDGE=$([ "${PROFILE_H2C:-0}" = 1 ] && echo true || echo false)) ;;
    gateway) service=gateway port=$GW_PORT
      env_service=(GATEWAY_ADDR=127.0.0.1:$GW_PORT DATABASE_URL="$DB_URL" DATABASE_MAX_CONNECTIONS=8
                   MODEL_SERVICE_URL=http://127.0.0.1:$MS_PORT WORKER_SERVICE_URL=http://127.0.0.1:9
                   AUTH_MODE=off RATE_LIMIT=off) ;;
  esac
  [ "$service" = gateway ] || env_service+=(MODEL_SERVICE_ADDR=127.0.0.1:$MS_PORT)
  local file="$OUT/$provider-$workload.callgrind"
  env "${env_service[@]}" RUST_LOG=warn \
    valgrind --tool=callgrind --callgrind-out-file="$file" --dump-instr=no --instr-atstart=no \
    "$BIN/$service" >"$OUT/$provider-$workload.log" 2>&1 &
  local vg=$!
  wait_ready "http://127.0.0.1:$port/health"
  # Count from here: start-up (certificate loading, clock calibration) is neither repeatable
  # nor per request.
  callgrind_control -i on $vg >/dev/null
  if [ "$#" -gt 0 ]; then "$BIN/sable-bench" "$@" >"$OUT/$provider-$workload.out"; fi
  kill -TERM $vg; wait $vg || true
  callgrind_annotate --inclusive=yes "$file" 2>/dev/null >"$OUT/$provider-$workload.annotate.txt" || true
  awk '/^summary:|^totals:/ {print $2; exit}' "$file"
}

MS=http://127.0.0.1:$MS_PORT
GW=http://127.0.0.1:$GW_PORT
# row <label> <base URL> <sync path> <stream path>: the four sessions of one service.
row() {
  local label=$1 provider=$2 base=$3 sync_path=$4 stream_path=$5
  local idle sync sse1 sse256
  idle=$(run "$provider" idle)
  sync=$(run "$provider" sync sync --url "$base$sync_path" --clients 4 --requests "$N")
  sse1=$(run "$provider" sse1 sse --url "$base$stream_path" --streams "$S" --rounds 1 --tokens 1)
  sse256=$(run "$provider" sse256 sse --url "$base$stream_path" --streams "$S" --rounds 1 --tokens 256)
  # The load client sends one warm-up request before a sync run.
  printf '| %s | %s instructions | %s instructions | %s instructions | %s | %s |\n' "$label" \
    $(( (sync - idle) / (N + 1) )) $(( (sse1 - idle) / S )) $(( (sse256 - sse1) / (S * 255) )) "$N" "$S"
}
{
echo "| process (provider) | per request (sync, max_tokens 32) | per stream (open + 1 token + end) | per token | sync requests | streams |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
if [ "$ONLY" != gateway ]; then
  for provider in ${PROFILE_PROVIDERS:-mock openai}; do
    row "model service ($provider)" $provider "$MS" /inference /inference/stream
  done
fi
if [ "$ONLY" != model-service ]; then
  source scripts/lib/db.sh
  ensure_database_server >&2
  DB_URL=$(create_fresh_database sable_profile)
  # (This block runs in a pipeline's subshell: the model service is stopped here, not by the
  # trap, which cannot see its pid.)
  PROVIDER=mock MOCK_FIRST_TOKEN_DELAY_MS=0 MOCK_TOKEN_DELAY_MS=0 MODEL_SERVICE_ADDR=127.0.0.1:$MS_PORT \
    RUST_LOG=warn "$BIN/model-service" >"$OUT/gateway-model-service.log" 2>&1 &
  model_service=$!
  wait_ready "$MS/health"
  row "gateway (mock)" gateway "$GW" /api/v1/generate /api/v1/generate/stream
  kill "$model_service"; wait "$model_service" 2>/dev/null || true
  psql "$(_admin_url "$DATABASE_URL")" -qc "DROP DATABASE IF EXISTS \"${DB_URL##*/}\" WITH (FORCE)" >/dev/null 2>&1 || true
fi
} | tee "$OUT/summary.md"
