# Shared helpers for the workshop's lab solutions: `source workshop/lab.sh` (bash).
# SABLE_URL (default http://localhost:8000) is the gateway; the token is SABLE_TOKEN or the file
# lab 0.1 writes ($SABLE_LAB_DIR/token, default .data/workshop/token). Needs curl and python3.
set -euo pipefail
SABLE_URL="${SABLE_URL:-http://localhost:8000}"
SABLE_LAB_DIR="${SABLE_LAB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.data/workshop}"
mkdir -p "$SABLE_LAB_DIR"
if [ -z "${SABLE_TOKEN:-}" ] && [ -f "$SABLE_LAB_DIR/token" ]; then
  SABLE_TOKEN="$(cat "$SABLE_LAB_DIR/token")"
fi

# api METHOD PATH [JSON]: one call to the gateway with your token; prints the body, fails on >= 400.
api() {
  local method=$1 path=$2 body=${3:-}
  local args=(-sS --max-time 30 -X "$method" -H "authorization: Bearer ${SABLE_TOKEN:-}")
  [ -n "$body" ] && args+=(-H 'content-type: application/json' -d "$body")
  curl --fail-with-body "${args[@]}" "$SABLE_URL$path"
}

# json EXPR: reads JSON on stdin and prints the Python expression EXPR of it (`d` is the value).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# new_session TITLE: creates a chat session and prints its id.
new_session() { api POST /api/v1/chat/sessions "{\"title\":\"$1\"}" | json 'd["id"]'; }

# wait_job ID: waits (up to 30 s) until the job is no longer pending or running; prints its status.
wait_job() {
  local status
  for _ in $(seq 1 150); do
    status=$(api GET "/api/v1/jobs/$1" | json 'd["status"]')
    case $status in pending | running) sleep 0.2 ;; *) echo "$status"; return 0 ;; esac
  done
  echo "$status"
}
