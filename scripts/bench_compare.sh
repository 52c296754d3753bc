#!/usr/bin/env bash
# Two builds of the model service side by side: each behind its own `fake-openai` at 20 ms per
# token (the openai provider path), with the provider direct as the reference, in alternating
# runs, so machine load falls on both alike. Answers "is build B slower than build A under
# saturation?", which two separate `make bench` sessions cannot.
#   scripts/bench_compare.sh OLD_RELEASE_DIR NEW_RELEASE_DIR [ROUNDS]   (default 3 rounds)
# Each directory holds `fake-openai` and `model-service` (e.g. a worktree's target/release);
# `sable-bench` is taken from the second. Per round: 200 and 2,000 streams of 256 tokens.
#   COMPARE_PORT_BASE (default 26500): ports BASE+1/+3 (old) and BASE+101/+103 (new)
set -uo pipefail
OLD=${1:?old release dir}; NEW=${2:?new release dir}; ROUNDS=${3:-3}
BASE=${COMPARE_PORT_BASE:-26500}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
wait_ready() {
  for _ in $(seq 1 300); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "not ready: $1" >&2; return 1
}
start() { # release-dir port-base
  "$1/fake-openai" --addr "127.0.0.1:$(($2 + 3))" --token-delay-ms 20 >/dev/null 2>&1 & pids+=($!)
  wait_ready "http://127.0.0.1:$(($2 + 3))/health" || exit 1
  env PROVIDER=openai OPENAI_BASE_URL="http://127.0.0.1:$(($2 + 3))/v1" OPENAI_API_KEY=bench \
    DEFAULT_MODEL=bench FALLBACK_MODEL= MODELS= MODEL_SERVICE_ADDR="127.0.0.1:$(($2 + 1))" \
    RUST_LOG=warn "$1/model-service" >/dev/null 2>&1 & pids+=($!)
  wait_ready "http://127.0.0.1:$(($2 + 1))/health" || exit 1
}
start "$OLD" "$BASE"
start "$NEW" "$((BASE + 100))"
run() { # label url streams
  printf '%-7s' "$1"
  "$NEW/sable-bench" sse --url "$2" --streams "$3" --tokens 256 --rounds 1 2>&1 | grep '^|' | tail -1
}
for i in $(seq 1 "$ROUNDS"); do
  for n in 200 2000; do
    echo "== round $i, $n streams (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    run direct "http://127.0.0.1:$((BASE + 3))/v1/chat/completions" "$n"
    run old "http://127.0.0.1:$((BASE + 1))/inference/stream" "$n"
    run new "http://127.0.0.1:$((BASE + 101))/inference/stream" "$n"
  done
done
