#!/usr/bin/env bash
# Builds frontend/dist only when needed, so `make run` can call it on every start:
#   - `npm ci` when node_modules is missing or older than package-lock.json;
#   - `npm run build` when dist is missing or older than any source/config file.
# FORCE=1 rebuilds regardless.
set -euo pipefail
cd "$(dirname "$0")/../frontend"

log() { echo "[frontend] $*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  log "npm not found: install Node.js 20+ to build the UI"
  exit 1
fi

stamp=node_modules/.package-lock.json # written by npm on every install
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  log "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

needs_build=0
if [ "${FORCE:-0}" = 1 ] || [ ! -f dist/index.html ]; then
  needs_build=1
else
  newer=$(find src public index.html package.json package-lock.json vite.config.ts tsconfig.json \
    tailwind.config.js postcss.config.js \
    -newer dist/index.html -print -quit 2>/dev/null || true)
  [ -n "$newer" ] && needs_build=1
fi

if [ "$needs_build" = 1 ]; then
  log "building (npm run build)"
  npm run build --silent -- --logLevel warn
  touch dist/index.html
  log "built frontend/dist"
else
  log "frontend/dist is up to date"
fi
