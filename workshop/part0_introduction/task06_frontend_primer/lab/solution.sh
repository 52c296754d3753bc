#!/usr/bin/env bash
# Lab 0.6: start a long session stream, stop it from another connection, read the stored answer.
source "$(dirname "$0")/../../../lab.sh"
id=$(new_session "lab 0.6")
curl -sS -N --max-time 30 -X POST "$SABLE_URL/api/v1/generate/stream" \
  -H "authorization: Bearer $SABLE_TOKEN" -H 'content-type: application/json' \
  -d "{\"prompt\":\"[mock:tokens=200] go\",\"session_id\":\"$id\"}" >/dev/null &
viewer=$!
sleep 0.5
api POST "/api/v1/chat/sessions/$id/stop"
echo
wait "$viewer" || true
api GET "/api/v1/chat/sessions/$id" | json '(d["messages"][-1]["meta"] or {}).get("finish_reason")'
