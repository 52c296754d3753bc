#!/usr/bin/env bash
# Lab 2: a running job cancelled through the gateway, the worker and the model service.
source "$(dirname "$0")/../../../lab.sh"
job=$(api POST /api/v1/jobs '{"name":"lab-2","prompts":["[mock:delay=3000] a","[mock:delay=3000] b","[mock:delay=3000] c"]}' | json 'd["job_id"]')
for _ in $(seq 1 50); do
  [ "$(api GET "/api/v1/jobs/$job" | json 'd["status"]')" = running ] && break
  sleep 0.1
done
api POST "/api/v1/jobs/$job/cancel" | json 'd["status"]'
echo "final: $(wait_job "$job")"
