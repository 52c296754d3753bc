#!/usr/bin/env bash
# The monitoring configs (`make test` runs this; issue 13):
#
#   1. `promtool check config --syntax-only` on infra/prometheus/prometheus.yml,
#      `promtool check rules` on infra/prometheus/alerts.yml, and `promtool test rules` on
#      infra/prometheus/alerts_test.yml (alerts fire, and stay quiet, on sample series).
#      promtool comes from Debian's `prometheus` package, installed when missing and we may.
#   2. The Grafana provisioning: valid YAML/JSON, every panel's datasource is the provisioned
#      Prometheus uid, every panel has a query, panel ids are unique.
#   3. A real Prometheus (Debian's) runs the shipped prometheus.yml against the three services
#      started as binaries (accounts on, INTERNAL_TOKEN, ALLOWED_HOSTS), targets rewritten to
#      loopback: every target up == 1 and every dashboard query returns data (`live_prometheus`).
#   4. Against a live stack (the three services in one process, crates/e2e): after a stream and
#      a job, every metric the dashboard and the alert rules query is exported by a service, the
#      operator metrics exist, and no label holds an id
#      (`cargo test -p e2e --test e2e observability`).
#
# Usage: scripts/test_monitoring.sh [--no-live]     Exit status 0 when everything passes.
set -euo pipefail
cd "$(dirname "$0")/.."

pass=0
fail=0
ok() { pass=$((pass + 1)); printf '  ok   %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf '  FAIL %s\n' "$*"; }

echo "== promtool"
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    if command -v apt-get >/dev/null 2>&1; then
        echo "  installing Debian's prometheus package (prometheus, promtool)"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
            { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
                $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } || true
    fi
fi
if command -v promtool >/dev/null 2>&1; then
    echo "  $(promtool --version 2>&1 | head -n 1)"
    # --syntax-only: the token file named by credentials_file exists only in the container; the
    # live check below runs the full check on the same config with a real token file.
    out=$(cd infra/prometheus && promtool check config --syntax-only prometheus.yml 2>&1) && ok "promtool check config --syntax-only infra/prometheus/prometheus.yml" ||
        bad "promtool check config: $out"
    out=$(promtool check rules infra/prometheus/alerts.yml 2>&1) && ok "promtool check rules infra/prometheus/alerts.yml ($(echo "$out" | grep -o '[0-9]* rules' | head -n 1))" ||
        bad "promtool check rules: $out"
    out=$(cd infra/prometheus && promtool test rules alerts_test.yml 2>&1) && ok "promtool test rules infra/prometheus/alerts_test.yml" ||
        bad "promtool test rules: $out"
else
    bad "promtool is not installed and could not be installed (Debian package prometheus)"
fi

echo "== grafana provisioning"
PY=python3
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    "$PY" -m pip install --quiet --disable-pip-version-check pyyaml >/dev/null 2>&1 || true
fi
if out=$("$PY" - <<'EOF' 2>&1
import json, sys, yaml

ds = yaml.safe_load(open("infra/grafana/provisioning/datasources/datasources.yml"))
uids = {d["uid"]: d for d in ds["datasources"]}
assert uids.get("sable-prometheus", {}).get("type") == "prometheus", "no prometheus datasource with uid sable-prometheus"
assert uids["sable-prometheus"]["url"] == "http://prometheus:9090", "prometheus datasource URL"
prov = yaml.safe_load(open("infra/grafana/provisioning/dashboards/dashboards.yml"))
assert prov["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards", "dashboard provider path"
dash = json.load(open("infra/grafana/dashboards/sable.json"))
assert dash.get("uid") and dash.get("title"), "dashboard uid/title"
ids, queries = set(), 0
for p in dash["panels"]:
    assert p["id"] not in ids, f"duplicate panel id {p['id']}"
    ids.add(p["id"])
    if p["type"] == "row":
        continue
    assert p["datasource"]["uid"] == "sable-prometheus", f"{p['title']}: datasource {p['datasource']}"
    assert p.get("targets"), f"{p['title']}: no query"
    for t in p["targets"]:
        assert t["expr"].strip(), f"{p['title']}: empty query"
        assert t["datasource"]["uid"] == "sable-prometheus", f"{p['title']}: target datasource"
        queries += 1
titles = " | ".join(p["title"] for p in dash["panels"])
for wanted in ["Request rate", "p50 / p99 by route", "Time to first token", "Tokens per second", "Open streams",
               "Gateway overhead", "Queue depth", "Job throughput", "Error classes", "Pool usage"]:
    assert wanted in titles, f"no panel for {wanted!r}"
print(f"{len(ids)} panels, {queries} queries")
EOF
); then
    ok "infra/grafana: datasources, provider and dashboard ($out)"
else
    bad "infra/grafana: $out"
fi

# A real Prometheus (Debian's package) scraping the three services, started as binaries the
# way a deployment runs them (accounts on, INTERNAL_TOKEN, an ALLOWED_HOSTS that is not the
# scrape address), with the shipped prometheus.yml: only the discovery (DNS names -> loopback
# ports), the token file's path and the intervals (1 s) are rewritten. Every target must be up
# and every dashboard query must return data, within MONITORING_DEADLINE_SECS (40).
live_prometheus() {
    echo "== a real Prometheus scraping the running services with the shipped config"
    if ! command -v prometheus >/dev/null 2>&1; then
        bad "prometheus is not installed and could not be installed (Debian package prometheus)"
        return
    fi
    [ "${SKIP_CARGO_BUILD:-0}" = 1 ] || cargo build -q --locked --bins
    local bin="${CARGO_TARGET_DIR:-$PWD/target}/debug"
    local base=${MONITORING_PORT_BASE:-18500}
    local gw=$base model=$((base + 1)) worker=$((base + 2)) prom=$((base + 3))
    local t
    t=$(mktemp -d)
    # shellcheck source=lib/db.sh
    source scripts/lib/db.sh
    ensure_database_server >/dev/null 2>&1
    local db_url
    db_url=$(create_fresh_database sable_test_monitoring)
    local pids=()
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$t/internal_token")
    local token
    token=$(cat "$t/internal_token")
    stop_live() {
        for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        wait "${pids[@]}" 2>/dev/null || true
        psql "$(_admin_url "$DATABASE_URL")" -qc "DROP DATABASE IF EXISTS \"${db_url##*/}\" WITH (FORCE)" >/dev/null 2>&1 || true
        rm -rf "$t"
    }
    up() { for _ in $(seq 1 150); do curl -fsS --max-time 1 "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
    DATABASE_URL="$db_url" "$bin/gateway" --migrate-only >"$t/migrate.log" 2>&1
    INTERNAL_TOKEN="$token" MODEL_SERVICE_ADDR=127.0.0.1:$model PROVIDER=mock MOCK_FIRST_TOKEN_DELAY_MS=0 \
        MOCK_TOKEN_DELAY_MS=0 RUST_LOG=warn "$bin/model-service" >"$t/model.log" 2>&1 & pids+=($!)
    INTERNAL_TOKEN="$token" WORKER_SERVICE_ADDR=127.0.0.1:$worker DATABASE_URL="$db_url" \
        MODEL_SERVICE_URL=http://127.0.0.1:$model RUST_LOG=warn "$bin/worker-service" >"$t/worker.log" 2>&1 & pids+=($!)
    INTERNAL_TOKEN="$token" GATEWAY_ADDR=127.0.0.1:$gw DATABASE_URL="$db_url" SKIP_MIGRATIONS=true \
        MODEL_SERVICE_URL=http://127.0.0.1:$model WORKER_SERVICE_URL=http://127.0.0.1:$worker \
        AUTH_MODE=jwt JWT_SECRET="monitoring-test-only-$(head -c 24 /dev/urandom | base64)" \
        ALLOWED_HOSTS=sable.example RUST_LOG=warn "$bin/gateway" >"$t/gateway.log" 2>&1 & pids+=($!)
    if ! up "http://127.0.0.1:$model/health" || ! up "http://127.0.0.1:$worker/health" || ! up "http://127.0.0.1:$gw/health"; then
        tail -n 5 "$t"/*.log | sed 's/^/       /'
        bad "the services did not start"
        stop_live
        return
    fi
    "$PY" scripts/lib/prometheus_live.py config infra/prometheus/prometheus.yml "$t/prometheus.yml" \
        "{\"gateway\": $gw, \"model-service\": $model, \"worker-service\": $worker, \"prometheus\": $prom}" \
        "$t/internal_token"
    cp infra/prometheus/alerts.yml "$t/"
    if out=$(promtool check config "$t/prometheus.yml" 2>&1); then
        ok "promtool check config (the shipped config with a token file; rules included)"
    else
        bad "promtool check config: $out"
    fi
    prometheus --config.file="$t/prometheus.yml" --storage.tsdb.path="$t/data" \
        --web.listen-address=127.0.0.1:$prom --log.level=warn >"$t/prometheus.log" 2>&1 & pids+=($!)
    # Traffic while Prometheus scrapes (rates need events between two scrapes): streams, a
    # sync answer, a job, a refused sign-in; bounded by the deadline below.
    local host="sable.example" access
    # Registration answers 202 without tokens (it does not reveal accounts): sign in after it.
    curl -fsS -o /dev/null -H "host: $host" "http://127.0.0.1:$gw/api/v1/auth/register" -H 'content-type: application/json' \
        -d '{"email":"monitor@example.com","password":"correct horse battery"}' || true
    access=$(curl -fsS -H "host: $host" "http://127.0.0.1:$gw/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"email":"monitor@example.com","password":"correct horse battery"}' |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || access=""
    (
        for _ in $(seq 1 40); do
            [ -d "$t" ] || break
            curl -sS -o /dev/null --max-time 5 -H "host: $host" -H "authorization: Bearer $access" \
                -H 'content-type: application/json' -d '{"prompt":"hello monitoring"}' \
                "http://127.0.0.1:$gw/api/v1/generate/stream" || true
            curl -sS -o /dev/null --max-time 5 -H "host: $host" -H "authorization: Bearer $access" \
                -H 'content-type: application/json' -d '{"prompt":"hello"}' "http://127.0.0.1:$gw/api/v1/generate" || true
            curl -sS -o /dev/null --max-time 5 -H "host: $host" -H "authorization: Bearer $access" \
                -H 'content-type: application/json' -d '{"prompts":["a","b"]}' "http://127.0.0.1:$gw/api/v1/jobs" || true
            curl -sS -o /dev/null --max-time 5 -H "host: $host" -H 'content-type: application/json' \
                -d '{"email":"monitor@example.com","password":"wrong password here"}' "http://127.0.0.1:$gw/api/v1/auth/login" || true
            sleep 1
        done
    ) & pids+=($!)
    local started=$SECONDS
    if out=$("$PY" scripts/lib/prometheus_live.py check "http://127.0.0.1:$prom" infra/grafana/dashboards/sable.json \
        "${MONITORING_DEADLINE_SECS:-40}" 2>&1); then
        echo "$out" | sed 's/^ok   /  ok   /; /^  ok/!s/^/       /'
        ok "real Prometheus $(prometheus --version 2>&1 | head -n 1 | awk '{print $3}'): every target up, every dashboard query has data ($((SECONDS - started)) s)"
    else
        echo "$out" | sed 's/^/       /'
        tail -n 5 "$t"/prometheus.log "$t"/*.log 2>/dev/null | sed 's/^/       /'
        bad "real Prometheus against the shipped config"
    fi
    stop_live
}

if [ "${1:-}" != "--no-live" ]; then
    live_prometheus

    echo "== metrics named by the dashboard and the alerts, against a live scrape"
    if cargo test --quiet --locked -p e2e --test e2e observability >/tmp/sable-test-monitoring.$$ 2>&1; then
        ok "cargo test -p e2e --test e2e observability ($(grep -o '[0-9]* passed' /tmp/sable-test-monitoring.$$ | tail -n 1))"
    else
        tail -n 40 /tmp/sable-test-monitoring.$$ | sed 's/^/       /'
        bad "cargo test -p e2e --test e2e observability"
    fi
    rm -f /tmp/sable-test-monitoring.$$
fi

echo "test_monitoring: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
