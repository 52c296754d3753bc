#!/usr/bin/env bash
# `make bench`: release builds, everything on loopback, two providers side by side:
#   - mock:   the model service's in-process mock (zero delay; 20 ms/token for paced streams);
#   - openai: the model service's OpenAI-compatible provider (async-openai over HTTP) against
#             `fake-openai` (crates/fake-openai), a zero-delay (or 20 ms/token) fake server.
# Each row runs the same load against the provider directly, the model service directly and
# the gateway, and prints Sable's figure beside the reference and their ratio. Then the queue
# benchmark, with the zero-delay fake model service and with the HTTP provider path.
# The run's table (machine, commit, load) replaces the generated block of docs/benchmarks.md
# and lands in bench-output/results.md.
#   BENCH_SECONDS (default 5)   duration of each closed-loop sync measurement
#   BENCH_STREAMS_2000=0        skip the 2,000-stream scenarios
#   BENCH_QUEUE=0               skip the queue benchmark
#   BENCH_WRITE_DOCS=0          do not touch docs/benchmarks.md
#   BENCH_SKIP_BUILD=1          use the release binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib/db.sh
SECS="${BENCH_SECONDS:-5}"
OUT=bench-output; mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
bench_started=$(date +%s)

ensure_database_server
DB_URL=$(create_fresh_database sable_bench)
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] ||
  cargo build --release --locked --bins -p gateway -p model-service -p worker-service -p bench -p fake-openai
BIN="$ROOT/target/release"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_ready() { # url what
  for _ in $(seq 1 200); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "$2 did not become ready ($1)" >&2; return 1
}

# The fake OpenAI-compatible provider of stack <prefix>, on port <prefix>3.
start_fake() { # prefix token-delay-ms
  "$BIN/fake-openai" --addr "127.0.0.1:${1}3" --token-delay-ms "$2" >"$OUT/fake-$1.log" 2>&1 & pids+=($!)
  wait_ready "http://127.0.0.1:${1}3/health" "fake-openai on ${1}3"
}

declare -A GW_PID
db_pids=() # gateways and workers: they hold database connections (the server is shared)
stop_db_clients() { for p in "${db_pids[@]}"; do kill "$p" 2>/dev/null || true; done; db_pids=(); }
start_stack() { # prefix provider(mock|openai) token-delay-ms
  local p=$1 provider=$2 delay=$3
  local -a provider_env
  if [ "$provider" = mock ]; then
    provider_env=(PROVIDER=mock MOCK_FIRST_TOKEN_DELAY_MS=0 MOCK_TOKEN_DELAY_MS="$delay")
  else
    start_fake "$p" "$delay"
    provider_env=(PROVIDER=openai OPENAI_BASE_URL="http://127.0.0.1:${p}3/v1" OPENAI_API_KEY=bench
                  DEFAULT_MODEL=bench FALLBACK_MODEL= MODELS=)
  fi
  env "${provider_env[@]}" MODEL_SERVICE_ADDR=127.0.0.1:${p}1 RUST_LOG=warn \
    "$BIN/model-service" >"$OUT/model-$p.log" 2>&1 & pids+=($!)
  WORKER_SERVICE_ADDR=127.0.0.1:${p}2 DATABASE_URL=$DB_URL MODEL_SERVICE_URL=http://127.0.0.1:${p}1 \
    RUST_LOG=warn "$BIN/worker-service" >"$OUT/worker-$p.log" 2>&1 & pids+=($!); db_pids+=($!)
  GATEWAY_ADDR=127.0.0.1:${p}0 DATABASE_URL=$DB_URL MODEL_SERVICE_URL=http://127.0.0.1:${p}1 \
    WORKER_SERVICE_URL=http://127.0.0.1:${p}2 DATABASE_MAX_CONNECTIONS=16 RUST_LOG=warn \
    AUTH_MODE=off RATE_LIMIT=off "$BIN/gateway" >"$OUT/gateway-$p.log" 2>&1 & pids+=($!); db_pids+=($!)
  GW_PID[$p]=$!
  wait_ready "http://127.0.0.1:${p}0/health/ready" "stack on ${p}x" || { cat "$OUT"/*-"$p".log >&2; return 1; }
}
rm -f "$OUT"/rss-2000-*
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
sb() { "$BIN/sable-bench" "$@"; }

# Zero-delay stacks: 1810 mock, 1830 openai → fake-openai on 18303.
start_stack 1810 mock 0
start_stack 1830 openai 0

commit=$(git rev-parse --short HEAD)
dirty=$(git status --porcelain --untracked-files=no | grep -q . && echo " (working tree has uncommitted changes)" || true)
{
echo "Run of $(date -u +%Y-%m-%dT%H:%MZ), commit \`$commit\`$dirty."
echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)."
echo "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the same cores makes wall-clock figures noisy)."
echo
echo "Idle RSS (mock stack): gateway $(rss_mb "${GW_PID[1810]}") MB, model-service $(rss_mb "${pids[0]}") MB, worker-service $(rss_mb "${pids[1]}") MB."
echo
echo "| provider | scenario | load | provider direct | model service direct | **Sable** (gateway → model service → provider) | Sable ÷ reference | Sable latency |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for prov in mock openai; do
  if [ $prov = mock ]; then p=1810; direct=(); else p=1830; direct=(--direct "http://127.0.0.1:${p}3/v1/chat/completions"); fi
  GW=http://127.0.0.1:${p}0; MS=http://127.0.0.1:${p}1
  sb sync --provider $prov "${direct[@]}" --model-service $MS/inference --url $GW/api/v1/generate --clients 1 --seconds "$SECS"
  sb sync --provider $prov "${direct[@]}" --model-service $MS/inference --url $GW/api/v1/generate --clients 32 --seconds "$SECS"
  sb sse --provider $prov "${direct[@]}" --model-service $MS/inference/stream --url $GW/api/v1/generate/stream --streams 32 --tokens 256 --rounds 5
done
} | tee "$OUT/results.md"
{
echo
sb --label "gateway (mock stack)" chat --base http://127.0.0.1:18100 --clients 8 --seconds "$SECS" | sed 's/^/Chat: /'
echo
} | tee -a "$OUT/results.md"
# Only the model services stay up: the paced stacks and the queue need database connections.
stop_db_clients

# Paced stacks (20 ms per token): 1820 mock, 1840 openai → fake-openai on 18403.
start_stack 1820 mock 20
start_stack 1840 openai 20
{
echo "| provider | scenario | load | provider direct | model service direct | **Sable** (gateway → model service → provider) | Sable ÷ reference | Sable latency |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for prov in mock openai; do
  if [ $prov = mock ]; then p=1820; direct=(); else
    p=1840; direct=(--direct "http://127.0.0.1:${p}3/v1/chat/completions" --model-service "http://127.0.0.1:${p}1/inference/stream")
  fi
  sb sse --provider "$prov, 20 ms/token" "${direct[@]}" --url http://127.0.0.1:${p}0/api/v1/generate/stream --streams 200 --tokens 256 --rounds 1
  if [ "${BENCH_STREAMS_2000:-1}" = 1 ]; then
    # The references run first; sample the gateway's RSS while Sable's 2,000 streams are open.
    echo "$(rss_mb "${GW_PID[$p]}")" >"$OUT/rss-2000-$prov"
    ( for _ in $(seq 1 240); do sleep 0.5
        open=$(ss -Htn state established "( sport = :${p}0 )" 2>/dev/null | wc -l)
        if [ "$open" -ge 1900 ]; then sleep 1; rss_mb "${GW_PID[$p]}" >"$OUT/rss-2000-$prov"; break; fi
      done ) &
    sb sse --provider "$prov, 20 ms/token" "${direct[@]}" --url http://127.0.0.1:${p}0/api/v1/generate/stream --streams 2000 --tokens 256 --rounds 1
    wait
  fi
done
echo
for prov in mock openai; do
  if [ -f "$OUT/rss-2000-$prov" ]; then
    echo "Gateway RSS with 2,000 open streams ($prov): $(cat "$OUT/rss-2000-$prov") MB."
  fi
done
} | tee -a "$OUT/results.md"

stop_db_clients
if [ "${BENCH_QUEUE:-1}" = 1 ] && cargo metadata --no-deps --format-version 1 2>/dev/null | grep -q '"queue_bench"'; then
  cargo build -q --release --locked -p worker-service --example queue_bench
  {
  echo
  echo "#### Queue, zero-delay fake model service"
  echo
  DATABASE_URL=$(create_fresh_database sable_bench) "$ROOT/target/release/examples/queue_bench"
  echo
  echo "#### Queue, HTTP provider path (worker → model service → async-openai → fake-openai)"
  echo
  DATABASE_URL=$(create_fresh_database sable_bench) QUEUE_BENCH_MODEL_URL=http://127.0.0.1:18301 \
    "$ROOT/target/release/examples/queue_bench"
  } | tee -a "$OUT/results.md"
fi
echo | tee -a "$OUT/results.md"
echo "Bench wall time: $(( $(date +%s) - bench_started )) s." | tee -a "$OUT/results.md"

if [ "${BENCH_WRITE_DOCS:-1}" = 1 ]; then
  python3 - "$OUT/results.md" docs/benchmarks.md <<'PY'
import sys
results, doc = sys.argv[1], sys.argv[2]
begin, end = "<!-- bench:begin (written by scripts/bench.sh) -->", "<!-- bench:end -->"
text = open(doc).read()
block = f"{begin}\n{open(results).read().strip()}\n{end}"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    text = head + block + rest.split(end, 1)[1]
else:
    text = text.rstrip() + "\n\n## Latest `make bench` run\n\n" + block + "\n"
open(doc, "w").write(text)
print(f"wrote the table into {doc}")
PY
fi
