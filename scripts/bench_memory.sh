#!/usr/bin/env bash
# Memory per open stream: the gateway and the model service (openai provider → fake-openai at
# 20 ms per token, as in `make bench`'s paced rows) hold N streams of T tokens open at once;
# their RSS is sampled when at least 95 % of the N client connections are established, and
# (RSS open − RSS idle) / N is the memory per open stream. A smaller N than the bench's 2,000
# row gives the same per-stream figure on a busy machine in a few seconds.
#   MEMORY_STREAMS (default 500), MEMORY_TOKENS (default 256: 5 s per stream at 20 ms)
#   MEMORY_PORT_BASE (default 18950): gateway, +1 model service, +3 fake provider
#   MEMORY_SKIP_BUILD=1   use the release binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib/db.sh
N="${MEMORY_STREAMS:-500}"; T="${MEMORY_TOKENS:-256}"
BASE="${MEMORY_PORT_BASE:-18950}"
GW_PORT=$BASE; MS_PORT=$((BASE + 1)); FAKE_PORT=$((BASE + 3))
OUT=bench-output/memory; mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
[ "${MEMORY_SKIP_BUILD:-0}" = 1 ] ||
  cargo build --release --locked --bins -p gateway -p model-service -p bench -p fake-openai
BIN="$ROOT/target/release"

ensure_database_server >&2
DB_URL=$(create_fresh_database sable_memory)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  psql "$(_admin_url "$DATABASE_URL")" -qc "DROP DATABASE IF EXISTS \"${DB_URL##*/}\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
wait_ready() { for _ in $(seq 1 200); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

"$BIN/fake-openai" --addr 127.0.0.1:$FAKE_PORT --token-delay-ms 20 >"$OUT/fake.log" 2>&1 & pids+=($!)
wait_ready "http://127.0.0.1:$FAKE_PORT/health"
PROVIDER=openai OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1 OPENAI_API_KEY=bench DEFAULT_MODEL=bench \
  FALLBACK_MODEL= MODELS= MODEL_SERVICE_ADDR=127.0.0.1:$MS_PORT RUST_LOG=warn \
  "$BIN/model-service" >"$OUT/model-service.log" 2>&1 & pids+=($!); ms=$!
GATEWAY_ADDR=127.0.0.1:$GW_PORT DATABASE_URL=$DB_URL DATABASE_MAX_CONNECTIONS=8 \
  MODEL_SERVICE_URL=http://127.0.0.1:$MS_PORT WORKER_SERVICE_URL=http://127.0.0.1:9 \
  AUTH_MODE=off RATE_LIMIT=off RUST_LOG=warn "$BIN/gateway" >"$OUT/gateway.log" 2>&1 & pids+=($!); gw=$!
wait_ready "http://127.0.0.1:$MS_PORT/health"; wait_ready "http://127.0.0.1:$GW_PORT/health"
# One short stream first, so that both processes have set up what every stream shares.
"$BIN/sable-bench" sse --url http://127.0.0.1:$GW_PORT/api/v1/generate/stream --streams 1 --tokens 2 --rounds 1 >/dev/null
gw_idle=$(rss_kb $gw); ms_idle=$(rss_kb $ms)
( for _ in $(seq 1 400); do sleep 0.1
    open=$(ss -Htn state established "( sport = :$GW_PORT )" 2>/dev/null | wc -l)
    if [ "$open" -ge $((N * 95 / 100)) ]; then sleep 1; echo "$(rss_kb $gw) $(rss_kb $ms) $open" >"$OUT/open"; break; fi
  done ) &
sampler=$!
"$BIN/sable-bench" sse --url http://127.0.0.1:$GW_PORT/api/v1/generate/stream --streams "$N" --tokens "$T" --rounds 1 >"$OUT/sse.out"
wait $sampler || true
[ -s "$OUT/open" ] || { echo "fewer than 95 % of $N streams were open at once" >&2; exit 1; }
read -r gw_open ms_open open <"$OUT/open"
per() { echo $(( ($1 - $2) * 1024 / N / 1000 )); }
{
echo "| process | idle RSS | RSS with $N open streams ($open connections seen) | per open stream |"
echo "| --- | ---: | ---: | ---: |"
echo "| gateway | $((gw_idle / 1024)) MB | $((gw_open / 1024)) MB | $(per "$gw_open" "$gw_idle") KB |"
echo "| model service (openai) | $((ms_idle / 1024)) MB | $((ms_open / 1024)) MB | $(per "$ms_open" "$ms_idle") KB |"
} | tee "$OUT/summary.md"
