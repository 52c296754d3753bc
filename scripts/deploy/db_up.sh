#!/usr/bin/env bash
# `make db-up`: Postgres 16 in Docker with a loopback port, for `make run` / `make test` on
# the host. Uses docker-compose.yml + docker-compose.dev.yml (which publishes
# 127.0.0.1:${POSTGRES_PORT:-5432}); waits until it accepts connections and prints the
# DATABASE_URL to use. Needs .env with POSTGRES_PASSWORD (see .env.example).
set -euo pipefail
cd "$(dirname "$0")/../.."
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi

# The few values we need, read from .env without executing it (the environment wins).
env_value() {
    local v=${!1:-}
    if [ -z "$v" ] && [ -f .env ]; then
        v=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" .env | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/")
    fi
    printf '%s' "${v:-$2}"
}
port=$(env_value POSTGRES_PORT 5432)
user=$(env_value POSTGRES_USER sable)
db=$(env_value POSTGRES_DB sable)
[ -n "$(env_value POSTGRES_PASSWORD '')" ] || { echo "db-up: set POSTGRES_PASSWORD in .env (cp .env.example .env)" >&2; exit 1; }

"${COMPOSE[@]}" -f docker-compose.yml -f docker-compose.dev.yml up -d postgres
for _ in $(seq 1 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
        "${COMPOSE[@]}" -f docker-compose.yml -f docker-compose.dev.yml exec -T postgres \
            pg_isready -h 127.0.0.1 -U "$user" -d "$db" >/dev/null 2>&1; then
        echo "Postgres is ready. Use:"
        echo "  DATABASE_URL=postgres://$user:<POSTGRES_PASSWORD>@127.0.0.1:$port/$db"
        exit 0
    fi
    sleep 1
done
echo "db-up: Postgres did not become ready within 60 s; see: ${COMPOSE[*]} logs postgres" >&2
exit 1
