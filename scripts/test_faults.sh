#!/usr/bin/env bash
# Slow tests (issue 12.6, 12.8), `make test-faults`; `make test` and CI run them too. The three
# real binaries run as child processes against a real Postgres:
#   crates/e2e/tests/faults.rs  the model service killed and restarted mid-job, SIGTERM to the
#                               gateway with streams open, SIGTERM to a worker holding jobs
#   crates/e2e/tests/load.rs    a mixed load held for LOAD_SECS seconds: no error, every job
#                               completed, RSS growth under 10 % (figures printed)
# Both are #[ignore]d in the ordinary `cargo test` and run here, one test at a time.
#
#   LOAD_SECS=60          duration of the load (the RSS is compared at a third of it and at the end)
#   LOAD_CONCURRENCY=4    client tasks per kind of request
#   FAULTS_TIMEOUT=270    seconds before the whole run is stopped (it takes about 1.5 min)
#   SKIP_CARGO_BUILD=1    use the existing target/debug binaries
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/db.sh
step() { printf '\033[1m==> [faults] %s\033[0m\n' "$*"; }

ensure_database_server
if [ "${SKIP_CARGO_BUILD:-0}" != 1 ]; then
  step "building the binaries and the tests"
  cargo build -q --locked --bins
fi
cargo test -q --locked -p e2e --test faults --test load --no-run

step "process faults and load held (LOAD_SECS=${LOAD_SECS:-60})"
export LOAD_SECS="${LOAD_SECS:-60}" LOAD_CONCURRENCY="${LOAD_CONCURRENCY:-4}"
# Service logs are JSON lines on the services' own pipes; only the tests' output is shown.
timeout --signal=INT --kill-after=10 "${FAULTS_TIMEOUT:-270}" \
  cargo test --locked -p e2e --test faults --test load -- --ignored --test-threads=1 --nocapture
