#!/usr/bin/env bash
# Lab 5: measure p50/p99 for 60 requests, record them, compare with the gateway's /metrics.
source "$(dirname "$0")/../../../lab.sh"
figures=$(SABLE_TOKEN="$SABLE_TOKEN" python3 "$(dirname "$0")/load.py")
echo "$figures"
id=$(new_session "lab 5")
api POST "/api/v1/chat/sessions/$id/messages" "{\"role\":\"user\",\"content\":\"$figures\"}" >/dev/null
curl -sS --max-time 10 "$SABLE_URL/metrics" | grep 'route="/api/v1/models"' | grep -m 2 requests_total || true
