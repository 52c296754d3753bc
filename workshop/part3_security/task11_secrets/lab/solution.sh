#!/usr/bin/env bash
# Lab 11: with INTERNAL_TOKEN on all three services (solution.env), who is let in.
source "$(dirname "$0")/../../../lab.sh"
model="${SABLE_MODEL_URL:-http://localhost:8001}" worker="${SABLE_WORKER_URL:-http://localhost:8002}"
code() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
echo "model service, no token:  $(code -X POST "$model/inference" -H 'content-type: application/json' -d '{"prompt":"hi"}')"
echo "worker service, no token: $(code "$worker/jobs")"
echo "model service /health:    $(code "$model/health")"
echo "through the gateway:      $(code -X POST "$SABLE_URL/api/v1/generate" -H "authorization: Bearer $SABLE_TOKEN" -H 'content-type: application/json' -d '{"prompt":"hi","max_tokens":4}')"
