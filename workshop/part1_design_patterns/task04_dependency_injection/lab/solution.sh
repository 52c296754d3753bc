#!/usr/bin/env bash
# Lab 4: a control answer and one that needed two retries, timed by the gateway.
source "$(dirname "$0")/../../../lab.sh"
echo "provider: $(api GET /api/v1/models | json 'd["provider"]')"
id=$(new_session "lab 4")
api POST /api/v1/generate "{\"prompt\":\"hello\",\"max_tokens\":2,\"session_id\":\"$id\"}" | json 'd["latency_ms"]'
# A unique prompt: the mock counts calls per exact prompt and model.
api POST /api/v1/generate "{\"prompt\":\"[mock:flaky=2] hello $RANDOM$RANDOM\",\"max_tokens\":2,\"session_id\":\"$id\"}" | json 'd["latency_ms"]'
