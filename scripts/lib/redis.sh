# shellcheck shell=bash
# A Redis for the tests that need one (shared rate limits), found or started:
#
#   source scripts/lib/redis.sh
#   ensure_redis        # exports TEST_REDIS_URL pointing at a reachable Redis
#
# Order: $TEST_REDIS_URL if it answers PING; else 127.0.0.1:6379; else a project-local
# redis-server on port $SABLE_LOCAL_REDIS_PORT (default 56379) that keeps nothing on disk,
# installed from Debian's `redis-server` package when missing and we may.

SABLE_ROOT="${SABLE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SABLE_LOCAL_REDIS_PORT="${SABLE_LOCAL_REDIS_PORT:-56379}"

_redis_log() { echo "[redis] $*" >&2; }

# PING over plain TCP (no redis-cli needed): true when host:port answers +PONG.
_redis_pings() { # host port
  python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

ensure_redis() {
  if [ -n "${TEST_REDIS_URL:-}" ]; then
    local hostport="${TEST_REDIS_URL#redis://}"; hostport="${hostport##*@}"; hostport="${hostport%%/*}"
    if _redis_pings "${hostport%%:*}" "${hostport##*:}"; then return 0; fi
    _redis_log "TEST_REDIS_URL=$TEST_REDIS_URL does not answer; looking for another"
  fi
  if _redis_pings 127.0.0.1 6379; then
    export TEST_REDIS_URL="redis://127.0.0.1:6379"
    return 0
  fi
  if _redis_pings 127.0.0.1 "$SABLE_LOCAL_REDIS_PORT"; then
    export TEST_REDIS_URL="redis://127.0.0.1:$SABLE_LOCAL_REDIS_PORT"
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      _redis_log "installing Debian's redis-server"
      { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null 2>&1 \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }; } \
        || { _redis_log "could not install redis-server"; return 1; }
    else
      _redis_log "no Redis reachable and no redis-server binary: install Debian's redis-server package"
      return 1
    fi
  fi
  mkdir -p "$SABLE_ROOT/.data/redis"
  _redis_log "starting a local redis-server on 127.0.0.1:$SABLE_LOCAL_REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$SABLE_LOCAL_REDIS_PORT" --save "" \
    --appendonly no --dir "$SABLE_ROOT/.data/redis" --logfile "$SABLE_ROOT/.data/redis/redis.log" >/dev/null
  for _ in $(seq 1 50); do
    if _redis_pings 127.0.0.1 "$SABLE_LOCAL_REDIS_PORT"; then
      export TEST_REDIS_URL="redis://127.0.0.1:$SABLE_LOCAL_REDIS_PORT"
      return 0
    fi
    sleep 0.1
  done
  _redis_log "redis-server did not start (see .data/redis/redis.log)"
  return 1
}
