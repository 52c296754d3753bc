#!/usr/bin/env bash
# Generates src/api/schema.gen.ts from the gateway's OpenAPI document (openapi-typescript).
#   GATEWAY_BIN=path   use this gateway binary (default: target/debug/gateway when it exists,
#                      otherwise `cargo run -q -p gateway`)
#   OUT=path           write here instead of src/api/schema.gen.ts (used by check-api-types.sh)
# Run as `make api-types` or `npm run api-types`.
set -euo pipefail
FE="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(cd "$FE/.." && pwd)"
OUT="${OUT:-$FE/src/api/schema.gen.ts}"
BIN="${GATEWAY_BIN:-$ROOT/target/debug/gateway}"

doc="$(mktemp -t sable-openapi.XXXXXX.json)"
trap 'rm -f "$doc"' EXIT
if [ -x "$BIN" ]; then
  "$BIN" --print-openapi >"$doc"
else
  (cd "$ROOT" && cargo run -q -p gateway -- --print-openapi) >"$doc"
fi
[ -s "$doc" ] || { echo "api-types: the gateway printed no OpenAPI document" >&2; exit 1; }

cd "$FE"
node_modules/.bin/openapi-typescript "$doc" --output "$OUT" --alphabetize >/dev/null
