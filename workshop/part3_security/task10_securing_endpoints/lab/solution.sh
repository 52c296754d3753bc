#!/usr/bin/env bash
# Lab 10: with ALLOWED_HOSTS set (solution.env), each refusal of the public edge in turn.
source "$(dirname "$0")/../../../lab.sh"
code() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
auth="authorization: Bearer $SABLE_TOKEN"
echo "other host:    $(code "$SABLE_URL/api/v1/models" -H "$auth" -H 'host: evil.example')"
echo "no token:      $(code "$SABLE_URL/api/v1/chat/sessions")"
echo "empty prompt:  $(code -X POST "$SABLE_URL/api/v1/generate" -H "$auth" -H 'content-type: application/json' -d '{"prompt":""}')"
python3 -c 'print("{\"prompt\":\"" + "a" * 1100000 + "\"}")' >"$SABLE_LAB_DIR/big.json"
echo "1.1 MB body:   $(code -X POST "$SABLE_URL/api/v1/generate" -H "$auth" -H 'content-type: application/json' --data-binary @"$SABLE_LAB_DIR/big.json")"
curl -sS -o /dev/null -D - --max-time 10 "$SABLE_URL/api/v1/models" -H "$auth" | grep -iE '^(x-content-type-options|x-frame-options|referrer-policy)'
