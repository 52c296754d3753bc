#!/usr/bin/env bash
# Lab 3: real-time, streaming and batch for the same prompt, timed.
source "$(dirname "$0")/../../../lab.sh"
id=$(new_session "lab 3")
prompt="Describe a lighthouse"
start=$(date +%s%N)
api POST /api/v1/generate "{\"prompt\":\"$prompt\",\"session_id\":\"$id\"}" >/dev/null
echo "real-time: $(( ($(date +%s%N) - start) / 1000000 )) ms for the whole answer"
curl -sS -N --fail-with-body --max-time 30 -o /dev/null -w 'streaming: first byte %{time_starttransfer} s, end %{time_total} s\n' \
  -X POST "$SABLE_URL/api/v1/generate/stream" -H "authorization: Bearer $SABLE_TOKEN" \
  -H 'content-type: application/json' -d "{\"prompt\":\"$prompt\",\"session_id\":\"$id\"}"
start=$(date +%s%N)
job=$(api POST /api/v1/jobs "{\"name\":\"lab-3\",\"prompts\":[\"$prompt\",\"$prompt at night\",\"$prompt in fog\"]}" | json 'd["job_id"]')
echo "batch: $(wait_job "$job") after $(( ($(date +%s%N) - start) / 1000000 )) ms"
