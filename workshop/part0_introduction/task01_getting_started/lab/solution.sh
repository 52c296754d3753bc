#!/usr/bin/env bash
# Lab 0.1: a fresh account, an API key named "workshop", saved for the other labs.
unset SABLE_TOKEN
source "$(dirname "$0")/../../../lab.sh"
email="learner-$(date +%s)-$RANDOM@example.com"
password="workshop-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')"
curl -sS --fail-with-body --max-time 30 "$SABLE_URL/api/v1/auth/register" \
  -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"$password\"}" >/dev/null
SABLE_TOKEN=$(curl -sS --fail-with-body --max-time 30 "$SABLE_URL/api/v1/auth/login" \
  -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"$password\"}" | json 'd["access_token"]')
key=$(api POST /api/v1/auth/keys '{"name":"workshop"}' | json 'd["key"]')
(umask 077; printf '%s\n' "$key" > "$SABLE_LAB_DIR/token")
printf '%s\n%s\n' "$email" "$password" > "$SABLE_LAB_DIR/account"
echo "API key for $email saved to $SABLE_LAB_DIR/token"
