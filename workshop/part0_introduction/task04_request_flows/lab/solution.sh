#!/usr/bin/env bash
# Lab 0.4: the same question sync, streamed into a session, and as a batch job.
source "$(dirname "$0")/../../../lab.sh"
api POST /api/v1/generate '{"prompt":"What is SSE?","max_tokens":8}' | json 'd["latency_ms"]'
id=$(new_session "lab 0.4")
curl -sS -N --fail-with-body --max-time 30 -X POST "$SABLE_URL/api/v1/generate/stream" \
  -H "authorization: Bearer $SABLE_TOKEN" -H 'content-type: application/json' \
  -d "{\"prompt\":\"What is SSE?\",\"session_id\":\"$id\"}" | tail -n 2
job=$(api POST /api/v1/jobs '{"name":"lab-0.4","prompts":["one","two","three"]}' | json 'd["job_id"]')
echo "job $job: $(wait_job "$job")"
