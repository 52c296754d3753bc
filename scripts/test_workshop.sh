#!/usr/bin/env bash
# The workshop's own tests (`make test-workshop`, part of `make test`):
#   1. docs that cannot rot: scripts/workshop_docs_check.py — every file, function, make target,
#      environment variable and route a workshop page names exists;
#   2. every lab, in curriculum order, against a fresh real stack: its solution
#      (lab/solution.sh, after the stack settings in lab/solution.env), then its check
#      (scripts/lab_check.py), each timed. Fails on the first check that does not pass, and on a
#      check that passes before its solution ran (it would test nothing).
#
# The stack: model-service (mock), two worker-services (lab 6), two gateway replicas sharing
# rate-limit buckets in Redis (lab 8), ALLOWED_HOSTS (lab 10) and INTERNAL_TOKEN (lab 11) —
# the union of the labs' solution.env settings — on a fresh database. Debug binaries.
#
#   scripts/test_workshop.sh                   docs check + every lab
#   scripts/test_workshop.sh docs              docs check only
#   scripts/test_workshop.sh solution 0.4      run one lab's solution against $SABLE_URL (no stack)
# Env: SKIP_CARGO_BUILD=1, LAB_PORT_BASE (default 18400: gateway, +1 model, +2/+3 workers,
# +10 second gateway), LABS="0.1 0.4" (only these, in this order; 0.1 always runs first).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

step() { printf '\033[1m==> [workshop] %s\033[0m\n' "$*"; }
die() { echo "[workshop] $*" >&2; exit 1; }

# task_dir ID: the folder of task ID ("0.4" -> workshop/part0_introduction/task04_request_flows).
task_dir() {
  local id=$1 d part task
  for d in workshop/part*_*/task*_*/; do
    part=${d#workshop/part}; part=${part%%_*}
    task=${d#workshop/part*/task}; task=${task%%_*}; task=$((10#$task))
    if { [ "$part" = 0 ] && [ "$id" = "0.$task" ]; } || { [ "$part" != 0 ] && [ "$id" = "$task" ]; }; then
      echo "${d%/}"; return 0
    fi
  done
  return 1
}

# Every task id in curriculum order.
task_ids() {
  local d part task
  for d in workshop/part*_*/task*_*/; do
    part=${d#workshop/part}; part=${part%%_*}
    task=${d#workshop/part*/task}; task=${task%%_*}; task=$((10#$task))
    if [ "$part" = 0 ]; then echo "0.$task"; else echo "$task"; fi
  done
}

if [ "${1:-}" = solution ]; then
  [ -n "${2:-}" ] || die "usage: make lab-solution TASK=<id>"
  dir=$(task_dir "$2") || die "no task $2"
  [ -f "$dir/lab/solution.env" ] && { echo "[workshop] this solution also needs these stack settings:"; grep -v '^#' "$dir/lab/solution.env"; }
  exec bash "$dir/lab/solution.sh"
fi

BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
if [ "${SKIP_CARGO_BUILD:-0}" != 1 ]; then
  step "cargo build --bins"
  cargo build --bins --locked
fi

step "docs that cannot rot"
python3 scripts/workshop_docs_check.py --self-test --bin-dir "$BIN"
[ "${1:-}" = docs ] && exit 0

source scripts/lib/db.sh
source scripts/lib/redis.sh
ensure_database_server
ensure_redis
DB_URL="$(create_fresh_database sable_workshop)"
DB_NAME="${DB_URL##*/}"; DB_NAME="${DB_NAME%%\?*}"

BASE="${LAB_PORT_BASE:-18400}"
GW=$BASE MODEL=$((BASE + 1)) WORKER=$((BASE + 2)) WORKER_B=$((BASE + 3)) GW_B=$((BASE + 10))
T="$(mktemp -d "${TMPDIR:-/tmp}/sable-workshop.XXXXXX")"
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql "$(_admin_url "$DATABASE_URL")" -qc "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- ${f##*/} (last 20 lines)" >&2; tail -n 20 "$f" >&2; }; done
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT INT TERM

# The labs' stack settings: lines "<process> KEY=VALUE" from every lab/solution.env, where
# process is gateway, worker or all; $REDIS_URL in a value is this run's Redis.
declare -A EXTRA=([gateway]="" [worker]="" [model]="")
for f in workshop/part*_*/task*_*/lab/solution.env; do
  [ -f "$f" ] || continue
  while read -r proc kv; do
    case "$proc" in ''|'#'*) continue ;; esac
    kv=${kv//\$REDIS_URL/$TEST_REDIS_URL}
    if [ "$proc" = all ]; then
      for p in gateway worker model; do EXTRA[$p]+=" $kv"; done
    else
      [ -n "${EXTRA[$proc]+x}" ] || die "$f: unknown process $proc"
      EXTRA[$proc]+=" $kv"
    fi
  done <"$f"
done
step "stack settings from the labs: gateway:${EXTRA[gateway]} | worker:${EXTRA[worker]} | model:${EXTRA[model]}"
INTERNAL_TOKEN_VALUE="lab-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

start() { # name binary env...
  local name=$1 bin=$2
  shift 2
  # shellcheck disable=SC2086
  env "$@" RUST_LOG=warn "$BIN/$bin" >"$T/$name.log" 2>&1 &
  pids+=($!)
}
wait_healthy() { # name port
  for _ in $(seq 1 150); do
    curl -fsS --max-time 1 "http://127.0.0.1:$2/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "$1 did not become healthy on :$2"
}
# ${EXTRA[...]} is split into KEY=VALUE words on purpose.
sub() { echo "${1//\$INTERNAL_TOKEN/$INTERNAL_TOKEN_VALUE}"; }

step "starting the stack on :$GW (second gateway :$GW_B, model :$MODEL, workers :$WORKER/:$WORKER_B)"
DATABASE_URL="$DB_URL" "$BIN/gateway" --migrate-only >"$T/migrate.log" 2>&1
# shellcheck disable=SC2046
start model model-service DATABASE_URL="$DB_URL" MODEL_SERVICE_ADDR="127.0.0.1:$MODEL" PROVIDER=mock \
  MOCK_FIRST_TOKEN_DELAY_MS=50 MOCK_TOKEN_DELAY_MS=20 $(sub "${EXTRA[model]}")
wait_healthy model-service "$MODEL"
for w in "$WORKER" "$WORKER_B"; do
  # shellcheck disable=SC2046
  start "worker-$w" worker-service DATABASE_URL="$DB_URL" WORKER_SERVICE_ADDR="127.0.0.1:$w" \
    MODEL_SERVICE_URL="http://127.0.0.1:$MODEL" $(sub "${EXTRA[worker]}")
  wait_healthy worker-service "$w"
done
JWT="lab-$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')"
for g in "$GW" "$GW_B"; do
  # shellcheck disable=SC2046
  start "gateway-$g" gateway DATABASE_URL="$DB_URL" GATEWAY_ADDR="127.0.0.1:$g" SKIP_MIGRATIONS=true \
    MODEL_SERVICE_URL="http://127.0.0.1:$MODEL" WORKER_SERVICE_URL="http://127.0.0.1:$WORKER" \
    AUTH_MODE=jwt JWT_SECRET="$JWT" DOCS_ROOT="$ROOT" RATE_LIMIT_AUTH_PER_MINUTE=600 \
    RATE_LIMIT_GENERATE_PER_MINUTE=600 RATE_LIMIT_GENERATE_BURST=100 $(sub "${EXTRA[gateway]}")
  wait_healthy gateway "$g"
done

export SABLE_URL="http://127.0.0.1:$GW" SABLE_URL_B="http://127.0.0.1:$GW_B"
export SABLE_MODEL_URL="http://127.0.0.1:$MODEL" SABLE_WORKER_URL="http://127.0.0.1:$WORKER"
export SABLE_WORKER_URL_B="http://127.0.0.1:$WORKER_B" SABLE_LAB_DIR="$T/lab"
unset SABLE_TOKEN

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
read -r -a ids <<<"${LABS:-$(task_ids | tr '\n' ' ')}"
[ "${ids[0]}" = 0.1 ] || ids=(0.1 "${ids[@]}")
report=()
total=$(date +%s%N)
for id in "${ids[@]}"; do
  dir=$(task_dir "$id") || die "no task $id"
  step "lab $id ($dir)"
  # A check must test something: before its solution it fails (labs whose solution is stack
  # configuration, lab/solution.env, run on a stack that already has it).
  if [ ! -f "$dir/lab/solution.env" ]; then
    if python3 scripts/lab_check.py "$id" >"$T/precheck-$id.out" 2>&1; then
      cat "$T/precheck-$id.out"; die "lab $id: the check passed before its solution ran"
    fi
    echo "  (before the solution the check fails, as it should: $(grep -c MISSING "$T/precheck-$id.out") missing)"
  fi
  t0=$(date +%s%N)
  bash "$dir/lab/solution.sh" >"$T/lab-$id.out" 2>&1 || { cat "$T/lab-$id.out"; die "lab $id: the solution failed"; }
  sol=$(ms "$t0")
  t1=$(date +%s%N)
  python3 scripts/lab_check.py "$id" || { echo "--- solution output:"; cat "$T/lab-$id.out"; die "lab $id: the check failed on its solution"; }
  report+=("$(printf '%-5s %-58s solution %6d ms   check %5d ms' "$id" "$dir" "$sol" "$(ms "$t1")")")
done
step "every lab's check passes on its solution ($(ms "$total") ms in all)"
printf '  %s\n' "${report[@]}"
