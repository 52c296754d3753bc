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
# Output: bench-output/profile/{summary.md, *.callgrind, *.annotate.txt}.
#   PROFILE_REQUESTS (default 2000), PROFILE_STREAMS (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=bench-output/profile; mkdir -p "$OUT"
N="${PROFILE_REQUESTS:-2000}"; S="${PROFILE_STREAMS:-100}"
[ "${PROFILE_SKIP_BUILD:-0}" = 1 ] || cargo build --release --locked --bins -p model-service -p bench -p fake-openai
BIN="$ROOT/target/release"
FAKE_PORT=18903; MS_PORT=18901
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$BIN/fake-openai" --addr 127.0.0.1:$FAKE_PORT >"$OUT/fake.log" 2>&1 & pids+=($!)

wait_ready() { for _ in $(seq 1 600); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# run <provider> <workload> <args…>: one callgrind session; prints its total instructions.
run() {
  local provider=$1 workload=$2; shift 2
  local -a env_provider
  if [ "$provider" = mock ]; then
    env_provider=(PROVIDER=mock MOCK_FIRST_TOKEN_DELAY_MS=0 MOCK_TOKEN_DELAY_MS=0)
  else
    env_provider=(PROVIDER=openai OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1 OPENAI_API_KEY=bench
                  DEFAULT_MODEL=bench FALLBACK_MODEL= MODELS=)
  fi
  local file="$OUT/$provider-$workload.callgrind"
  env "${env_provider[@]}" MODEL_SERVICE_ADDR=127.0.0.1:$MS_PORT RUST_LOG=warn \
    valgrind --tool=callgrind --callgrind-out-file="$file" --dump-instr=no --instr-atstart=no \
    "$BIN/model-service" >"$OUT/$provider-$workload.log" 2>&1 &
  local vg=$!
  wait_ready "http://127.0.0.1:$MS_PORT/health"
  # Count from here: start-up (certificate loading, clock calibration) is neither repeatable
  # nor per request.
  callgrind_control -i on $vg >/dev/null
  if [ "$#" -gt 0 ]; then "$BIN/sable-bench" "$@" >"$OUT/$provider-$workload.out"; fi
  kill -TERM $vg; wait $vg || true
  callgrind_annotate --inclusive=yes "$file" 2>/dev/null >"$OUT/$provider-$workload.annotate.txt" || true
  awk '/^summary:|^totals:/ {print $2; exit}' "$file"
}

MS=http://127.0.0.1:$MS_PORT
{
echo "| provider | per request (sync, max_tokens 32) | per stream (open + 1 token + end) | per token | sync requests | streams |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for provider in mock openai; do
  idle=$(run $provider idle)
  sync=$(run $provider sync sync --url $MS/inference --clients 4 --requests "$N")
  sse1=$(run $provider sse1 sse --url $MS/inference/stream --streams "$S" --rounds 1 --tokens 1)
  sse256=$(run $provider sse256 sse --url $MS/inference/stream --streams "$S" --rounds 1 --tokens 256)
  # The load client sends one warm-up request before a sync run.
  per_req=$(( (sync - idle) / (N + 1) ))
  per_stream=$(( (sse1 - idle) / S ))
  per_token=$(( (sse256 - sse1) / (S * 255) ))
  printf '| %s | %s instructions | %s instructions | %s instructions | %s | %s |\n' \
    $provider $per_req $per_stream $per_token "$N" "$S"
done
} | tee "$OUT/summary.md"
