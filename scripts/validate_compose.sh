#!/usr/bin/env bash
# Validates the Docker deployment without a Docker engine (here and in CI):
#
#   1. Schema: `docker compose config` (Compose v2 plugin) when present, otherwise Debian's
#      `docker-compose` 1.29 (strict JSON-schema validation of the Compose spec; installed
#      with apt-get when missing and we may). Run on docker-compose.yml alone and merged
#      with docker-compose.dev.yml, with a throwaway env file and a clean environment, so
#      neither the caller's shell nor their .env can hide a missing variable.
#   2. The required-setting guards: without POSTGRES_PASSWORD, JWT_SECRET, INTERNAL_TOKEN or
#      ALLOWED_HOSTS, config must fail, naming the missing one.
#   3. Policy (scripts/deploy/check_compose_policy.py, PyYAML): healthchecks, health-gated
#      depends_on, network segmentation, one published port, named volume, restart policies,
#      resource limits, no inline secrets, 2 workers, ports consistent across compose,
#      Dockerfiles and nginx configs, COPY sources present and not dockerignored. Then the
#      checker's own self-test (broken variants must be rejected).
#   4. `nginx -t` on infra/nginx/nginx.conf and frontend/nginx.conf (upstream hosts mapped
#      to 127.0.0.1, /tmp paths to a temp dir; see scripts/test_nginx.sh for the full run).
#
# Usage: scripts/validate_compose.sh      Exit status: 0 when everything passes.
# ALLOW_NO_COMPOSE=1 downgrades "no compose implementation available" to a warning.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0
ok() { pass=$((pass + 1)); printf '  ok   %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf '  FAIL %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 && return 0
    as_root apt-get update >/dev/null 2>&1 || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1
}

# ---- 1. schema -------------------------------------------------------------------------
echo "== compose schema"
COMPOSE=()
if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose; then
    COMPOSE=(docker-compose)
fi

cat >"$TMP/validate.env" <<EOF
POSTGRES_PASSWORD=validate-only-not-a-secret
JWT_SECRET=validate-only-not-a-secret-0123456789
INTERNAL_TOKEN=validate-only-not-a-secret-internal
ALLOWED_HOSTS=validate-only.example
SABLE_ENV_FILE=$TMP/validate.env
EOF
# Each of these lacks exactly one required setting.
without() { grep -v "^$1=" "$TMP/validate.env" >"$TMP/$2"; }
without POSTGRES_PASSWORD empty.env
without JWT_SECRET nojwt.env
without INTERNAL_TOKEN nointernal.env
without ALLOWED_HOSTS nohosts.env

# A clean environment: only what the file itself and the env file provide.
compose_config() {
    local envfile=$1
    shift
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" "${COMPOSE[@]}" --project-directory "$ROOT" --env-file "$envfile" "$@" config
}

if [ ${#COMPOSE[@]} -eq 0 ]; then
    if [ "${ALLOW_NO_COMPOSE:-0}" = 1 ]; then
        echo "  WARN no compose implementation (docker compose / docker-compose); schema not checked"
    else
        bad "no compose implementation available: install the Docker Compose plugin or Debian's docker-compose"
    fi
else
    echo "  using: $("${COMPOSE[@]}" version 2>/dev/null | head -n 1)"
    if compose_config "$TMP/validate.env" -f docker-compose.yml >"$TMP/base.yml" 2>"$TMP/err"; then
        ok "docker-compose.yml is valid Compose"
    else
        bad "docker-compose.yml: $(cat "$TMP/err")"
    fi
    if compose_config "$TMP/validate.env" -f docker-compose.yml -f docker-compose.dev.yml >"$TMP/dev.yml" 2>"$TMP/err"; then
        ok "docker-compose.yml + docker-compose.dev.yml is valid Compose"
    else
        bad "docker-compose.dev.yml merge: $(cat "$TMP/err")"
    fi
    # ---- 2. required secret ----------------------------------------------------------------
    if compose_config "$TMP/empty.env" -f docker-compose.yml >/dev/null 2>"$TMP/err"; then
        bad "config succeeded without POSTGRES_PASSWORD (the secret must be required)"
    elif grep -q POSTGRES_PASSWORD "$TMP/err"; then
        ok "POSTGRES_PASSWORD is required (config fails clearly without it)"
    else
        bad "config failed without POSTGRES_PASSWORD, but not because of it: $(cat "$TMP/err")"
    fi
    if compose_config "$TMP/nojwt.env" -f docker-compose.yml >/dev/null 2>"$TMP/err"; then
        bad "config succeeded without JWT_SECRET (the gateway's signing secret must be required)"
    elif grep -q JWT_SECRET "$TMP/err"; then
        ok "JWT_SECRET is required (config fails clearly without it)"
    else
        bad "config failed without JWT_SECRET, but not because of it: $(cat "$TMP/err")"
    fi
    if compose_config "$TMP/nointernal.env" -f docker-compose.yml >/dev/null 2>"$TMP/err"; then
        bad "config succeeded without INTERNAL_TOKEN (the service-to-service secret must be required)"
    elif grep -q INTERNAL_TOKEN "$TMP/err"; then
        ok "INTERNAL_TOKEN is required (config fails clearly without it)"
    else
        bad "config failed without INTERNAL_TOKEN, but not because of it: $(cat "$TMP/err")"
    fi
    if compose_config "$TMP/nohosts.env" -f docker-compose.yml >/dev/null 2>"$TMP/err"; then
        bad "config succeeded without ALLOWED_HOSTS (the gateway must be told its host names: DNS rebinding)"
    elif grep -q ALLOWED_HOSTS "$TMP/err"; then
        ok "ALLOWED_HOSTS is required (config fails clearly without it)"
    else
        bad "config failed without ALLOWED_HOSTS, but not because of it: $(cat "$TMP/err")"
    fi
    if [ -s "$TMP/base.yml" ] && grep -q 'ALLOWED_HOSTS: validate-only.example' "$TMP/base.yml"; then
        ok "ALLOWED_HOSTS reaches the gateway"
    else
        bad "ALLOWED_HOSTS from the env file did not reach the resolved config"
    fi
    if [ -s "$TMP/base.yml" ] && grep -q 'validate-only-not-a-secret' "$TMP/base.yml" \
        && ! grep -q 'validate-only-not-a-secret' docker-compose.yml docker-compose.dev.yml; then
        ok "the password reaches the services only through interpolation"
    else
        bad "the password from the env file did not reach the resolved config"
    fi
fi

# ---- 3. policy -------------------------------------------------------------------------
echo "== policy"
PY=python3
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    "$PY" -m pip install --quiet --disable-pip-version-check pyyaml >/dev/null 2>&1 \
        || "$PY" -m pip install --quiet --disable-pip-version-check --user pyyaml >/dev/null 2>&1 \
        || { apt_install python3-yaml && PY=/usr/bin/python3; } \
        || true
fi
if "$PY" scripts/deploy/check_compose_policy.py --root "$ROOT" >"$TMP/policy" 2>&1; then
    ok "$(tail -n 1 "$TMP/policy")"
else
    sed 's/^/       /' "$TMP/policy"
    bad "policy checks"
fi
if "$PY" scripts/deploy/check_compose_policy.py --root "$ROOT" --self-test >"$TMP/self" 2>&1; then
    ok "$(tail -n 1 "$TMP/self")"
else
    bad "$(tail -n 1 "$TMP/self")"
fi

# ---- 4. nginx syntax -------------------------------------------------------------------
echo "== nginx -t"
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    apt_install nginx || true
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -x "$NGINX" ]; then
    for conf in infra/nginx/nginx.conf frontend/nginx.conf; do
        out="$TMP/$(echo "$conf" | tr / _)"
        sed -e "s#/tmp/#$TMP/#g" \
            -e 's#server gateway:8000;#server 127.0.0.1:19000;#' \
            -e 's#server frontend:8080;#server 127.0.0.1:19081;#' "$conf" >"$out"
        if "$NGINX" -t -q -e "$TMP/nginx-error.log" -c "$out" 2>"$TMP/err"; then
            ok "nginx -t $conf"
        else
            bad "nginx -t $conf: $(cat "$TMP/err")"
        fi
    done
else
    bad "nginx is not installed and could not be installed"
fi

echo "validate_compose: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
