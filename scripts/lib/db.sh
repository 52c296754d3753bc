# shellcheck shell=bash
# Database by default (DESIGN.md): find a reachable Postgres, or start a project-local one.
#
#   source scripts/lib/db.sh
#   ensure_database_server            # exports DATABASE_URL pointing at a reachable server's "sable" db
#   create_fresh_database NAME        # prints the URL of a new empty database NAME_<random>
#   drop_test_databases               # drops leftover sable_test_* databases
#
# Order: $DATABASE_URL if reachable; else the local cluster under .data/ (initdb + pg_ctl,
# port $SABLE_LOCAL_PG_PORT, default 55432) when Postgres binaries exist; else a short
# message on how to get one.

SABLE_ROOT="${SABLE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SABLE_LOCAL_PG_PORT="${SABLE_LOCAL_PG_PORT:-55432}"
SABLE_LOCAL_PG_DIR="${SABLE_LOCAL_PG_DIR:-$SABLE_ROOT/.data/postgres}"

_db_log() { echo "[db] $*" >&2; }

# Finds a Postgres server binary directory: PATH first, then Debian's layout.
_pg_bindir() {
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return 0
  fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# Prints "host port user dbname" parsed from a postgres:// URL (password ignored).
_parse_url() {
  python3 - "$1" <<'PY'
import sys, urllib.parse as u
p = u.urlparse(sys.argv[1])
print(p.hostname or "127.0.0.1", p.port or 5432, p.username or "postgres", (p.path or "/").lstrip("/") or "postgres")
PY
}

# True when a server answers at the URL's host and port and accepts the URL's credentials.
_server_reachable() {
  local url="$1" host port user db
  read -r host port user db < <(_parse_url "$url")
  if command -v psql >/dev/null 2>&1; then
    PGCONNECT_TIMEOUT=3 psql "$(_admin_url "$url")" -Atqc 'select 1' >/dev/null 2>&1
  else
    timeout 3 bash -c "</dev/tcp/$host/$port" 2>/dev/null
  fi
}

# The same server, database "postgres" (for CREATE DATABASE).
_admin_url() {
  python3 - "$1" <<'PY'
import sys, urllib.parse as u
p = u.urlparse(sys.argv[1])
print(u.urlunparse(p._replace(path="/postgres")))
PY
}

_with_db() {
  python3 - "$1" "$2" <<'PY'
import sys, urllib.parse as u
p = u.urlparse(sys.argv[1])
print(u.urlunparse(p._replace(path="/" + sys.argv[2])))
PY
}

# Starts (creating on first use) the project-local cluster; prints its URL.
_start_local_cluster() {
  local bindir
  bindir="$(_pg_bindir)" || return 1
  mkdir -p "$(dirname "$SABLE_LOCAL_PG_DIR")"
  if [ ! -f "$SABLE_LOCAL_PG_DIR/PG_VERSION" ]; then
    _db_log "creating a project-local Postgres cluster in ${SABLE_LOCAL_PG_DIR#"$SABLE_ROOT"/}"
    local run_as=()
    if [ "$(id -u)" = 0 ]; then
      # initdb refuses to run as root; use the postgres system user when there is one.
      id postgres >/dev/null 2>&1 || { _db_log "running as root and no 'postgres' user exists to own a local cluster"; return 1; }
      chown -R postgres "$(dirname "$SABLE_LOCAL_PG_DIR")" 2>/dev/null || true
      run_as=(runuser -u postgres --)
    fi
    "${run_as[@]}" "$bindir/initdb" -D "$SABLE_LOCAL_PG_DIR" -U postgres --auth=trust -E UTF8 >/dev/null || return 1
  fi
  local run_as=()
  [ "$(id -u)" = 0 ] && run_as=(runuser -u postgres --)
  if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$SABLE_LOCAL_PG_DIR" status >/dev/null 2>&1; then
    _db_log "starting the local cluster on 127.0.0.1:$SABLE_LOCAL_PG_PORT"
    "${run_as[@]}" "$bindir/pg_ctl" -D "$SABLE_LOCAL_PG_DIR" -l "$SABLE_LOCAL_PG_DIR/server.log" -w -t 30 \
      -o "-p $SABLE_LOCAL_PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null || return 1
  fi
  echo "postgres://postgres@127.0.0.1:$SABLE_LOCAL_PG_PORT/sable"
}

stop_local_cluster() {
  local bindir
  bindir="$(_pg_bindir)" || return 0
  [ -f "$SABLE_LOCAL_PG_DIR/PG_VERSION" ] || return 0
  local run_as=()
  [ "$(id -u)" = 0 ] && run_as=(runuser -u postgres --)
  "${run_as[@]}" "$bindir/pg_ctl" -D "$SABLE_LOCAL_PG_DIR" stop -m fast >/dev/null 2>&1 || true
}

# Creates database $2 on server $1 unless it exists.
_create_database_if_missing() {
  local url="$1" name="$2"
  local admin
  admin="$(_admin_url "$url")"
  if ! psql "$admin" -Atqc "select 1 from pg_database where datname = '$name'" | grep -q 1; then
    psql "$admin" -qc "CREATE DATABASE \"$name\"" >/dev/null
  fi
}

ensure_database_server() {
  local candidate="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/sable}"
  if _server_reachable "$candidate"; then
    :
  elif candidate="$(_start_local_cluster)" && _server_reachable "$candidate"; then
    :
  else
    cat >&2 <<'MSG'
[db] No Postgres is reachable and none can be started here.
     Install Postgres (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql@16)
     and run this again -- a project-local cluster is then created under .data/ automatically --
     or start one with Docker: make db-up, or point DATABASE_URL at a server you have.
MSG
    return 1
  fi
  local host port user db
  read -r host port user db < <(_parse_url "$candidate")
  [ "$db" = "postgres" ] && { db=sable; candidate="$(_with_db "$candidate" sable)"; }
  _create_database_if_missing "$candidate" "$db" || return 1
  export DATABASE_URL="$candidate"
  _db_log "using $(echo "$DATABASE_URL" | sed -E 's#//([^:@/]+):[^@]*@#//\1:***@#')"
}

# Prints the URL of a brand-new empty database on the current server.
create_fresh_database() {
  local prefix="${1:-sable_test}" name
  name="${prefix}_$(date +%s)_$RANDOM"
  psql "$(_admin_url "$DATABASE_URL")" -qc "CREATE DATABASE \"$name\"" >/dev/null || return 1
  _with_db "$DATABASE_URL" "$name"
}

# Drops databases left by earlier test runs (name prefix sable_test / sable_e2e / sable_nginx).
drop_test_databases() {
  local admin name
  admin="$(_admin_url "$DATABASE_URL")"
  for name in $(psql "$admin" -Atqc "select datname from pg_database where datname ~ '^sable_(test|e2e|nginx|bench)_'"); do
    psql "$admin" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
