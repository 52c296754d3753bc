#!/usr/bin/env bash
# The monitoring configs (`make test` runs this; issue 13):
#
#   1. `promtool check config` on infra/prometheus/prometheus.yml (and the rule file it loads),
#      `promtool check rules` on infra/prometheus/alerts.yml, and `promtool test rules` on
#      infra/prometheus/alerts_test.yml (alerts fire, and stay quiet, on sample series).
#      promtool comes from Debian's `prometheus` package, installed when missing and we may.
#   2. The Grafana provisioning: valid YAML/JSON, every panel's datasource is the provisioned
#      Prometheus uid, every panel has a query, panel ids are unique.
#   3. Against a live stack (the three services in one process, crates/e2e): after a stream and
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
if ! command -v promtool >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    if command -v apt-get >/dev/null 2>&1; then
        echo "  installing Debian's prometheus package (promtool)"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
            { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
                $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } || true
    fi
fi
if command -v promtool >/dev/null 2>&1; then
    echo "  $(promtool --version 2>&1 | head -n 1)"
    out=$(cd infra/prometheus && promtool check config prometheus.yml 2>&1) && ok "promtool check config infra/prometheus/prometheus.yml" ||
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

if [ "${1:-}" != "--no-live" ]; then
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
