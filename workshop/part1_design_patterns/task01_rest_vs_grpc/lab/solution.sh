#!/usr/bin/env bash
# Lab 1: the OpenAI dialect, streamed, stored in a Sable session.
source "$(dirname "$0")/../../../lab.sh"
id=$(new_session "lab 1")
model=$(api GET /v1/models | json 'd["data"][0]["id"]')
curl -sS -N --fail-with-body --max-time 30 -X POST "$SABLE_URL/v1/chat/completions" \
  -H "authorization: Bearer $SABLE_TOKEN" -H 'content-type: application/json' -H "x-sable-session-id: $id" \
  -d "{\"model\":\"$model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"REST or gRPC for a chat API?\"}]}" | tail -n 3
api GET "/api/v1/chat/sessions/$id" | json '[m["role"] for m in d["messages"]]'
