#!/usr/bin/env bash
# `make setup`: checks the tools, creates .env, fetches dependencies, prepares the database.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=0
need() { command -v "$1" >/dev/null 2>&1 || { echo "missing: $1 — $2" >&2; missing=1; }; }
need cargo "install Rust from https://rustup.rs"
need curl "apt-get install curl"
need python3 "apt-get install python3 (used by the database scripts)"
need psql "apt-get install postgresql-client (or postgresql for a local server)"
command -v npm >/dev/null 2>&1 || echo "optional: npm (Node.js 20+) builds the web UI" >&2
[ $missing = 0 ] || exit 1

[ -f .env ] || { cp .env.example .env; echo "created .env from .env.example"; }
cargo fetch --locked
if command -v npm >/dev/null 2>&1; then (cd frontend && npm ci --no-audit --no-fund); fi

source scripts/lib/db.sh
if ensure_database_server; then
  cargo run -q -p gateway -- --migrate-only
fi
cat <<'MSG'

Next steps:
  1. make run     start everything on http://localhost:8000
  2. make test    run every test
  3. make help    list all targets
MSG
