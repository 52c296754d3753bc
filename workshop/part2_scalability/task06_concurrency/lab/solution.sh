#!/usr/bin/env bash
# Lab 6: four jobs of four prompts submitted at once; two workers drain them (the second
# worker is a running process: `make test-workshop` starts two).
source "$(dirname "$0")/../../../lab.sh"
jobs=()
for n in 1 2 3 4; do
  jobs+=("$(api POST /api/v1/jobs "{\"name\":\"lab-6-$n\",\"prompts\":[\"a$n\",\"b$n\",\"c$n\",\"d$n\"]}" | json 'd["job_id"]')")
done
for job in "${jobs[@]}"; do
  echo "$job: $(wait_job "$job"), attempts $(api GET "/api/v1/jobs/$job" | json 'd["attempts"]')"
done
