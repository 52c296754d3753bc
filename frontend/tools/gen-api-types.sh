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
# operationIds must be unique (OpenAPI 3.1 §4.8.10.1); a duplicate would generate TypeScript
# that does not compile. Later duplicates get a numeric suffix, with a warning for the backend.
node --input-type=module - "$doc" <<'JS'
import { readFileSync, writeFileSync } from "node:fs";
const file = process.argv[2];
const doc = JSON.parse(readFileSync(file, "utf8"));
const seen = new Map();
for (const [path, item] of Object.entries(doc.paths ?? {})) {
  for (const [method, op] of Object.entries(item ?? {})) {
    if (!op || typeof op !== "object" || typeof op.operationId !== "string") continue;
    const n = seen.get(op.operationId) ?? 0;
    seen.set(op.operationId, n + 1);
    if (n > 0) {
      console.error(`api-types: warning: duplicate operationId "${op.operationId}" (${method.toUpperCase()} ${path}); generated as "${op.operationId}_${n + 1}" — fix it in the gateway's OpenAPI document`);
      op.operationId = `${op.operationId}_${n + 1}`;
    }
  }
}
writeFileSync(file, JSON.stringify(doc));
JS
node_modules/.bin/openapi-typescript "$doc" --output "$OUT" --alphabetize >/dev/null
