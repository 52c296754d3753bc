#!/usr/bin/env bash
# Lab 0.3: start a session stream, drop the connection, attach again, see the whole answer.
source "$(dirname "$0")/../../../lab.sh"
id=$(new_session "lab 0.3")
curl -sS -N --max-time 0.4 -X POST "$SABLE_URL/api/v1/generate/stream" \
  -H "authorization: Bearer $SABLE_TOKEN" -H 'content-type: application/json' \
  -d "{\"prompt\":\"[mock:tokens=40] tell me a story\",\"session_id\":\"$id\"}" || echo "(client gone after 0.4 s, as intended)"
# Attach: the tokens so far, then the live ones, then [DONE] (204 if it already finished).
curl -sS -N --max-time 20 "$SABLE_URL/api/v1/chat/sessions/$id/stream" -H "authorization: Bearer $SABLE_TOKEN" | tail -n 2
api GET "/api/v1/chat/sessions/$id" | json '[(m["role"], (m.get("meta") or {}).get("stopped")) for m in d["messages"]]'
