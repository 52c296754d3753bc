#!/usr/bin/env bash
# Slow tests (issue 12.6, 12.8), `make test-faults`; `make test` and CI run them too. The three
# real binaries run as child processes against a real Postgres:
#   crates/e2e/tests/faults.rs  the model service killed and restarted mid-job, SIGTERM to the
#                               gateway with streams open, SIGTERM to a worker holding jobs,
#                               the model service wedged by SIGSTOP
#   crates/e2e/tests/load.rs    a mixed load held for LOAD_SECS seconds: no error, every job
#                               completed, RSS growth under 10 % (figures printed)
#   crates/e2e/tests/scale_out.rs  many replicas (issue 27): 3 gateways behind nginx round-robin,
#                               2 model services, 3 workers, Redis limits: resume/stop through
#                               other gateways, SIGTERM to a gateway mid-stream, SIGKILL to a
#                               worker mid-job, limits across gateways, SCALE_LOAD_SECS (15) of
#                               mixed load through 1 and through 3 gateways (figures printed)
# Both are #[ignore]d in the ordinary `cargo test` and run here, one test at a time.
#
#   LOAD_SECS=60          duration of the load (the RSS is compared at a third of it and at the end)
#   LOAD_CONCURRENCY=4    client tasks per kind of request
#   SCALE_LOAD_SECS=15    duration of each many-replica load run
#   FAULTS_TIMEOUT=480    seconds before the whole run is stopped (it takes about 3.5 min)
#   SKIP_CARGO_BUILD=1    use the existing target/debug binaries
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/db.sh
source scripts/lib/redis.sh
step() { printf '\033[1m==> [faults] %s\033[0m\n' "$*"; }

ensure_database_server
# The many-replica run: the gateways' shared limits (Redis) and the balancer (Debian's nginx).
ensure_redis
export TEST_REDIS_URL
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  step "installing Debian's nginx"
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null; }
  else
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
  fi
fi
if [ "${SKIP_CARGO_BUILD:-0}" != 1 ]; then
  step "building the binaries and the tests"
  cargo build -q --locked --bins
fi
cargo test -q --locked -p e2e --test faults --test load --test scale_out --no-run

step "process faults and load held (LOAD_SECS=${LOAD_SECS:-60})"
export LOAD_SECS="${LOAD_SECS:-60}" LOAD_CONCURRENCY="${LOAD_CONCURRENCY:-4}" SCALE_LOAD_SECS="${SCALE_LOAD_SECS:-15}"
# Service logs are JSON lines on the services' own pipes; only the tests' output is shown.
timeout --signal=INT --kill-after=10 "${FAULTS_TIMEOUT:-480}" \
  cargo test --locked -p e2e --test faults --test load --test scale_out -- --ignored --test-threads=1 --nocapture
