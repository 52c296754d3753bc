#!/usr/bin/env bash
# Lab 8: the stack settings are in solution.env (both replicas: RATE_LIMIT_STORE=redis and the
# same REDIS_URL) and replica B is a second gateway process; this shows both ready and the
# limit headers a generation carries.
source "$(dirname "$0")/../../../lab.sh"
SABLE_URL_B="${SABLE_URL_B:-http://localhost:8010}"
for url in "$SABLE_URL" "$SABLE_URL_B"; do
  echo "$url ready: $(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$url/health/ready")"
done
curl -sS --max-time 30 -o /dev/null -D - -X POST "$SABLE_URL/api/v1/generate" -H "authorization: Bearer $SABLE_TOKEN" \
  -H 'content-type: application/json' -d '{"prompt":"hi","max_tokens":1}' | grep -i '^x-ratelimit'
