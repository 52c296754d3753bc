#!/usr/bin/env bash
# Creates migrations/<timestamp>_<name>.sql (sqlx's naming; applied in order at start-up).
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-}"
[ -n "$name" ] || { echo 'usage: make db-revision M="what it does"' >&2; exit 2; }
slug=$(echo "$name" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '_' | sed 's/^_//; s/_$//')
file="migrations/$(date -u +%Y%m%d%H%M%S)_${slug}.sql"
printf -- '-- %s\n' "$name" > "$file"
echo "created $file"
