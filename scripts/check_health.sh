#!/usr/bin/env bash
# Prints each service's /health and the gateway's readiness; exits 1 when anything is down.
set -uo pipefail
GATEWAY="${GATEWAY_URL:-http://localhost:8000}"
MODEL="${MODEL_SERVICE_URL:-http://localhost:8001}"
WORKER="${WORKER_SERVICE_URL:-http://localhost:8002}"
status=0
for pair in "gateway=$GATEWAY" "model-service=$MODEL" "worker-service=$WORKER"; do
  name="${pair%%=*}"; url="${pair#*=}"
  if body=$(curl -fsS --max-time 3 "$url/health" 2>/dev/null); then
    printf '  \033[32m✓\033[0m %-15s %s\n' "$name" "$body"
  else
    printf '  \033[31m✗\033[0m %-15s unreachable at %s\n' "$name" "$url"
    status=1
  fi
done
if ready=$(curl -sS --max-time 5 "$GATEWAY/health/ready" 2>/dev/null); then
  echo "  readiness: $ready"
  echo "$ready" | grep -q '"status":"ready"' || status=1
fi
exit $status
