#!/usr/bin/env bash
# Lab 0.2: one sync answer stored by the gateway in a session.
source "$(dirname "$0")/../../../lab.sh"
id=$(new_session "lab 0.2")
curl -sS --fail-with-body --max-time 30 -D - -o /dev/null "$SABLE_URL/api/v1/generate" \
  -H "authorization: Bearer $SABLE_TOKEN" -H 'content-type: application/json' -H 'x-request-id: lab-0-2' \
  -d "{\"prompt\":\"Which crate talks to providers?\",\"session_id\":\"$id\"}" | grep -i '^x-request-id'
api GET "/api/v1/chat/sessions/$id" | json '[(m["role"], (m.get("meta") or {}).get("model")) for m in d["messages"]]'
