"""The real-Prometheus half of scripts/test_monitoring.sh (issue 21.8).

  prometheus_live.py config SRC DEST PORTS_JSON TOKEN_FILE
      Writes DEST: the shipped infra/prometheus/prometheus.yml with each scrape job's DNS
      discovery replaced by the loopback target of the same service, every credentials_file
      pointed at TOKEN_FILE, and 1 s scrape and evaluation intervals (so the check fits in
      seconds). Everything else (jobs, paths, authorization, rule files) is kept as shipped.
  prometheus_live.py check PROM_URL DASHBOARD DEADLINE_SECS
      Waits until every target is up (`up == 1`), then until every query of the Grafana
      dashboard returns data, printing one line per check; exit status 1 on the first that
      is still failing at the deadline.
"""

import json
import sys
import time
import urllib.parse
import urllib.request

import yaml


def rewrite(src, dest, ports, token_file):
    config = yaml.safe_load(open(src))
    config["global"]["scrape_interval"] = "1s"
    config["global"]["scrape_timeout"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    for job in config["scrape_configs"]:
        targets = []
        for sd in job.pop("dns_sd_configs", []):
            for name in sd["names"]:
                targets.append(f"127.0.0.1:{ports[name]}")
        for static in job.get("static_configs", []):
            # The self-scrape: Prometheus's own listen address in this run.
            static["targets"] = [f"127.0.0.1:{ports['prometheus']}" for _ in static["targets"]]
        if targets:
            job["static_configs"] = [{"targets": targets}]
        auth = job.get("authorization")
        if auth and "credentials_file" in auth:
            auth["credentials_file"] = token_file
    yaml.safe_dump(config, open(dest, "w"), sort_keys=False)


def query(prom, expr):
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(body)
    return body["data"]["result"]


def dashboard_queries(path):
    dash = json.load(open(path))
    out = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            # Grafana's variables, as the dashboard's defaults resolve them: every job, and
            # a rate window of a few scrape intervals.
            expr = target["expr"].replace("$__rate_interval", "15s").replace('"$job"', '".*"')
            out.append((panel["title"], expr))
    return out


def check(prom, dashboard, deadline_secs):
    deadline = time.monotonic() + float(deadline_secs)
    failed = 0
    # Every target up.
    while True:
        try:
            targets = json.load(urllib.request.urlopen(f"{prom}/api/v1/targets", timeout=5))["data"]["activeTargets"]
        except Exception as e:  # noqa: BLE001 - Prometheus still starting
            targets, last = [], str(e)
        down = [t for t in targets if t["health"] != "up"]
        if targets and not down:
            break
        if time.monotonic() > deadline:
            for t in down or targets:
                print(f"FAIL target {t['labels'].get('job')} {t['scrapeUrl']}: {t['health']} {t.get('lastError', '')}")
            if not targets:
                print(f"FAIL no targets: {last if not targets else ''}")
            return 1
        time.sleep(0.5)
    ups = query(prom, "up")
    jobs = sorted(r["metric"]["job"] for r in ups if r["value"][1] == "1")
    print(f"ok   every target up == 1 ({len(ups)}: {', '.join(jobs)})")
    # Every dashboard query returns data.
    pending = dashboard_queries(dashboard)
    while pending and time.monotonic() < deadline:
        still = []
        for title, expr in pending:
            try:
                result = query(prom, expr)
            except Exception as e:  # noqa: BLE001
                result = []
                print(f"     query error {title}: {e}")
            if not result:
                still.append((title, expr))
        pending = still
        if pending:
            time.sleep(1)
    total = len(dashboard_queries(dashboard))
    for title, expr in pending:
        print(f"FAIL no data: {title}: {expr}")
        failed += 1
    if not pending:
        print(f"ok   every dashboard query returns data ({total} queries)")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1] == "config":
        rewrite(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
