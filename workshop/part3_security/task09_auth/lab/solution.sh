#!/usr/bin/env bash
# Lab 9: ownership answers 404 to another account; a revoked key answers 401.
source "$(dirname "$0")/../../../lab.sh"
id=$(new_session "lab 9")
email="other-$(date +%s)-$RANDOM@example.com" password="other-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')"
curl -sS --fail-with-body --max-time 30 "$SABLE_URL/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" >/dev/null
other=$(curl -sS --fail-with-body --max-time 30 "$SABLE_URL/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | json 'd["access_token"]')
(umask 077; echo "$other" > "$SABLE_LAB_DIR/lab09_other_token")
echo "their view of your session: $(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$SABLE_URL/api/v1/chat/sessions/$id" -H "authorization: Bearer $other")"
created=$(api POST /api/v1/auth/keys '{"name":"lab-9"}')
key=$(echo "$created" | json 'd["key"]') key_id=$(echo "$created" | json 'd["id"]')
api DELETE "/api/v1/auth/keys/$key_id" >/dev/null
(umask 077; echo "$key" > "$SABLE_LAB_DIR/lab09_revoked_key")
echo "revoked key: $(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$SABLE_URL/api/v1/auth/me" -H "authorization: Bearer $key")"
