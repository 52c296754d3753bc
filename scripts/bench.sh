#!/usr/bin/env bash
# `make bench`: release builds, zero-delay mock, everything on loopback. Prints markdown rows
# (also written to bench-output/results.md) to copy into docs/benchmarks.md.
# BENCH_SECONDS (default 5) sets each closed-loop scenario's duration.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib/db.sh
SECS="${BENCH_SECONDS:-5}"
OUT=bench-output; mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

ensure_database_server
DB_URL=$(create_fresh_database sable_bench)
cargo build --release --locked --bins -p gateway -p model-service -p worker-service -p bench
BIN="$ROOT/target/release"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start_stack() { # prefix-port token-delay-ms
  local p=$1 delay=$2
  MODEL_SERVICE_ADDR=127.0.0.1:${p}1 PROVIDER=mock MOCK_FIRST_TOKEN_DELAY_MS=0 MOCK_TOKEN_DELAY_MS=$delay \
    RUST_LOG=warn "$BIN/model-service" >"$OUT/model-$p.log" 2>&1 & pids+=($!)
  WORKER_SERVICE_ADDR=127.0.0.1:${p}2 DATABASE_URL=$DB_URL MODEL_SERVICE_URL=http://127.0.0.1:${p}1 \
    RUST_LOG=warn "$BIN/worker-service" >"$OUT/worker-$p.log" 2>&1 & pids+=($!)
  GATEWAY_ADDR=127.0.0.1:${p}0 DATABASE_URL=$DB_URL MODEL_SERVICE_URL=http://127.0.0.1:${p}1 \
    WORKER_SERVICE_URL=http://127.0.0.1:${p}2 DATABASE_MAX_CONNECTIONS=32 RUST_LOG=warn AUTH_MODE=off \
    "$BIN/gateway" >"$OUT/gateway-$p.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:${p}0/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "stack on ${p}x did not become ready" >&2; cat "$OUT"/*-"$p".log >&2; return 1
}
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

start_stack 1810 0
GW=http://127.0.0.1:18100; MS=http://127.0.0.1:18101
gw_pid=${pids[2]}
sb() { "$BIN/sable-bench" "$@"; }

{
echo "## Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores"
echo
echo "Idle RSS: gateway $(rss_mb "${pids[2]}") MB, model-service $(rss_mb "${pids[0]}") MB, worker-service $(rss_mb "${pids[1]}") MB"
echo
echo "| target | scenario | load | throughput | latency | | |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
sb --label "model-service direct" sync --url $MS/inference --clients 1 --seconds "$SECS"
sb --label "gateway" sync --url $GW/api/v1/generate --clients 1 --seconds "$SECS"
sb --label "model-service direct" sync --url $MS/inference --clients 32 --seconds "$SECS"
sb --label "gateway" sync --url $GW/api/v1/generate --clients 32 --seconds "$SECS"
sb --label "model-service direct" sse --url $MS/inference/stream --streams 32 --tokens 256 --rounds 5
sb --label "gateway" sse --url $GW/api/v1/generate/stream --streams 32 --tokens 256 --rounds 5
sb --label "gateway" chat --base $GW --clients 8 --seconds "$SECS"
} | tee "$OUT/results.md"

start_stack 1820 20
{
sb --label "gateway, 20 ms/token" sse --url http://127.0.0.1:18200/api/v1/generate/stream --streams 200 --tokens 256 --rounds 1
if [ "${BENCH_STREAMS_2000:-1}" = 1 ]; then
  sb --label "gateway, 20 ms/token" sse --url http://127.0.0.1:18200/api/v1/generate/stream --streams 2000 --tokens 256 --rounds 1 &
  bench_pid=$!
  sleep 3
  echo
  echo "Gateway RSS with 2000 open streams: $(rss_mb "${pids[5]}") MB"
  echo
  wait $bench_pid
fi
} | tee -a "$OUT/results.md"

if cargo metadata --no-deps --format-version 1 2>/dev/null | grep -q '"queue_bench"'; then
  echo | tee -a "$OUT/results.md"
  DATABASE_URL=$(create_fresh_database sable_bench) cargo run -q --release --locked -p worker-service --example queue_bench | tee -a "$OUT/results.md"
fi
