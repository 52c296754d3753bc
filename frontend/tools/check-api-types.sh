#!/usr/bin/env bash
# Fails when src/api/schema.gen.ts no longer matches the gateway's OpenAPI document, i.e. the
# backend gained or changed an endpoint and the generated types were not regenerated.
# Uses GATEWAY_BIN (default target/debug/gateway) like gen-api-types.sh.
set -euo pipefail
FE="$(cd "$(dirname "$0")/.." && pwd)"
committed="$FE/src/api/schema.gen.ts"
fresh="$(mktemp -t sable-schema.XXXXXX.ts)"
trap 'rm -f "$fresh"' EXIT

OUT="$fresh" bash "$FE/tools/gen-api-types.sh"
if ! diff -u "$committed" "$fresh" >"$fresh.diff" 2>&1; then
  head -n 60 "$fresh.diff" >&2
  rm -f "$fresh.diff"
  cat >&2 <<MSG

api-types: frontend/src/api/schema.gen.ts is out of date with the gateway's OpenAPI document.
Regenerate it and commit the result:

    make api-types          (or: cd frontend && npm run api-types)

then fix any type errors it reveals (npm run typecheck).
MSG
  exit 1
fi
rm -f "$fresh.diff"
echo "api-types: src/api/schema.gen.ts matches the gateway's OpenAPI document"
