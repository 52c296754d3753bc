#!/usr/bin/env bash
# Lab 0.5: store a conversation, find it with full-text search, export it, read its timings.
source "$(dirname "$0")/../../../lab.sh"
id=$(new_session "lab 0.5")
curl -sS -N --fail-with-body --max-time 30 -X POST "$SABLE_URL/api/v1/generate/stream" \
  -H "authorization: Bearer $SABLE_TOKEN" -H 'content-type: application/json' \
  -d "{\"prompt\":\"Why does observability need request ids?\",\"session_id\":\"$id\"}" >/dev/null
api GET "/api/v1/chat/search?q=observability" | json '[(r["session_title"], r["snippet"]) for r in d["results"]][:3]'
api GET "/api/v1/chat/sessions/$id/export?format=markdown" | head -n 3
api GET "/api/v1/chat/sessions/$id" | json '{k: v for k, v in d["messages"][-1]["meta"].items() if k in ("latency_ms", "ttft_ms")}'
curl -sS --max-time 10 "$SABLE_URL/metrics" | grep -m 3 '^http_requests_total' || true
