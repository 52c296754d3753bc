#!/usr/bin/env bash
# Lab 7: import 1,000 messages, read them back in pages of 100 by cursor, stream the export.
source "$(dirname "$0")/../../../lab.sh"
body=$(python3 -c 'import json; print(json.dumps({"title":"lab 7","messages":[{"role":"user" if i%2==0 else "assistant","content":f"message {i}"} for i in range(1000)]}))')
id=$(api POST /api/v1/chat/import "$body" | json 'd["id"]')
first=$(api GET "/api/v1/chat/sessions/$id?limit=100" | json 'd["messages"][0]["id"]')
api GET "/api/v1/chat/sessions/$id?limit=100&before=$first" | json '(len(d["messages"]), d["messages"][0]["content"], d["message_count"])'
api GET "/api/v1/chat/sessions/$id/export?format=json" | wc -c
