#!/usr/bin/env python3
"""Structural policy checks for docker-compose.yml and the files it points to.

`docker compose config` proves the file is valid Compose; this proves it is the deployment
we mean: health-gated start-up, segmented networks, one published port, a named database
volume, restart policies, resource limits, no inline secrets, two workers, and that the
ports named in compose, the Dockerfiles and the nginx configs agree with each other.

Usage: check_compose_policy.py [--root DIR] [--self-test]
Exit status 0 when every check passes, 1 otherwise (each failure is printed).
Needs PyYAML (scripts/validate_compose.sh installs it when missing).
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import os
import re
import sys

import yaml

EXPECTED_SERVICES = {"postgres", "redis", "migrate", "gateway", "model-service", "worker-service", "frontend", "nginx"}
DB_CLIENTS = {"gateway", "worker-service", "migrate"}
# Runs once and exits (the migrations): no healthcheck, no restart; others wait for it with
# condition: service_completed_successfully.
ONE_SHOT = {"migrate"}
PUBLIC_SERVICE = "nginx"
RESTART_OK = {"always", "unless-stopped", "on-failure"}
SECRET_KEY = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)$")
INTERPOLATION_ONLY = re.compile(r"^\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}$")
URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")
# The `monitoring` profile (docker compose --profile monitoring up): started only on request,
# never on `data`, no published port; Grafana alone joins `edge` (nginx proxies
# /monitoring/grafana/ to it) and its admin password comes from .env and is required.
MONITORING_SERVICES = {"prometheus", "grafana", "jaeger"}
MONITORING_PROFILE = "monitoring"
SERVICE_PORTS = {"gateway": 8000, "model-service": 8001, "worker-service": 8002}
ADDR_VARS = {"gateway": "GATEWAY_ADDR", "model-service": "MODEL_SERVICE_ADDR", "worker-service": "WORKER_SERVICE_ADDR"}


class Checker:
    def __init__(self, root: str, compose: dict, read_files: bool = True):
        self.root = root
        self.c = compose
        self.read_files = read_files
        self.failures: list[str] = []
        self.passed = 0

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)
        return ok

    # ---- helpers -------------------------------------------------------------------
    def services(self) -> dict:
        return self.c.get("services") or {}

    @staticmethod
    def networks_of(svc: dict) -> set:
        nets = svc.get("networks") or []
        return set(nets if isinstance(nets, list) else nets.keys())

    @staticmethod
    def env_of(svc: dict) -> dict:
        env = svc.get("environment") or {}
        if isinstance(env, list):
            return dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
        return env

    def read(self, rel: str) -> str | None:
        path = os.path.join(self.root, rel)
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as f:
            return f.read()

    # ---- checks --------------------------------------------------------------------
    def run(self) -> None:
        svcs = self.services()
        self.check(EXPECTED_SERVICES <= set(svcs), f"services: expected {sorted(EXPECTED_SERVICES)}, found {sorted(svcs)}")
        for name, svc in svcs.items():
            self.check_service(name, svc or {})
        self.check_start_order(svcs)
        self.check_networks(svcs)
        self.check_volumes(svcs)
        self.check_workers(svcs.get("worker-service") or {})
        self.check_scalable_gateway(svcs.get("gateway") or {})
        self.check_monitoring(svcs)
        if self.read_files:
            self.check_files(svcs)

    def check_service(self, name: str, svc: dict) -> None:
        hc = svc.get("healthcheck") or {}
        test = hc.get("test")
        if name in ONE_SHOT:
            self.check(str(svc.get("restart")) == "no", f"{name}: a one-shot service must not restart")
        else:
            self.check(bool(test) and not hc.get("disable") and test != ["NONE"], f"{name}: needs a healthcheck")
            self.check(svc.get("restart") in RESTART_OK, f"{name}: restart policy must be one of {sorted(RESTART_OK)}, got {svc.get('restart')!r}")
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        self.check("memory" in limits and "cpus" in limits, f"{name}: needs deploy.resources.limits (cpus and memory)")
        if name != PUBLIC_SERVICE:
            self.check(not svc.get("ports"), f"{name}: must not publish ports (only {PUBLIC_SERVICE} does)")
        env_files = [str(p) for p in _as_list(svc.get("env_file"))]
        self.check(all(p in {".env", "${SABLE_ENV_FILE:-.env}"} for p in env_files), f"{name}: env_file may only be .env")
        self.check(not env_files or name == "model-service",
                   f"{name}: only the model service may receive .env whole (it holds provider keys)")
        for key, value in self.env_of(svc).items():
            if value is None:
                continue
            value = str(value)
            if SECRET_KEY.search(key):
                self.check(value == "" or bool(INTERPOLATION_ONLY.match(value)),
                           f"{name}: {key} must come from .env as ${{{key}...}}, not be written inline")
            for m in URL_PASSWORD.finditer(value):
                self.check(bool(INTERPOLATION_ONLY.match(m.group(1))),
                           f"{name}: {key} has an inline password; use ${{POSTGRES_PASSWORD:?...}}")
        if name == "postgres":
            pw = str(self.env_of(svc).get("POSTGRES_PASSWORD", ""))
            self.check(":?" in pw, "postgres: POSTGRES_PASSWORD must be required with ${POSTGRES_PASSWORD:?message}")
        if name in SERVICE_PORTS:
            port = SERVICE_PORTS[name]
            addr = str(self.env_of(svc).get(ADDR_VARS[name], f"0.0.0.0:{port}"))
            self.check(addr.endswith(f":{port}"), f"{name}: {ADDR_VARS[name]}={addr} does not listen on {port}")
            self.check(f":{port}/" in " ".join(map(str, _as_list(test))), f"{name}: healthcheck does not probe port {port}")
            self.check(str(((svc.get("build") or {}).get("args") or {}).get("PORT")) == str(port),
                       f"{name}: build arg PORT must be {port}")
            self.check(((svc.get("build") or {}).get("args") or {}).get("BIN") == name, f"{name}: build arg BIN must be {name}")

    def check_start_order(self, svcs: dict) -> None:
        for name, svc in svcs.items():
            deps = (svc or {}).get("depends_on") or {}
            self.check(isinstance(deps, dict), f"{name}: depends_on must use the long form with conditions")
            if not isinstance(deps, dict):
                continue
            for dep, spec in deps.items():
                wanted = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
                self.check((spec or {}).get("condition") == wanted,
                           f"{name}: depends_on {dep} must use condition: {wanted}")
                self.check(dep in svcs, f"{name}: depends_on unknown service {dep}")
        # The database through the migrations: nothing that uses the schema starts before them.
        must = {"migrate": {"postgres"}, "gateway": {"migrate", "redis"}, "worker-service": {"migrate"},
                "nginx": {"gateway", "frontend"}}
        for name, needed in must.items():
            have = set(((svcs.get(name) or {}).get("depends_on") or {}))
            self.check(needed <= have, f"{name}: must wait for {sorted(needed)}")

    def check_networks(self, svcs: dict) -> None:
        nets = self.c.get("networks") or {}
        self.check({"edge", "app", "data"} <= set(nets), "networks edge, app and data must be declared")
        self.check(bool((nets.get("data") or {}).get("internal")), "network data must be internal: true")
        self.check(bool((nets.get("app") or {}).get("internal")), "network app must be internal: true")
        on_data = {n for n, s in svcs.items() if "data" in self.networks_of(s or {})}
        self.check(on_data == DB_CLIENTS | {"postgres", "redis"}, f"only postgres, redis and their clients ({sorted(DB_CLIENTS)}) may be on data, found {sorted(on_data)}")
        self.check(self.networks_of(svcs.get("redis") or {}) == {"data"}, "redis must be on data only")
        self.check(self.networks_of(svcs.get("postgres") or {}) == {"data"}, "postgres must be on data only")
        self.check(self.networks_of(svcs.get("nginx") or {}) == {"edge"}, "nginx must be on edge only")
        self.check(self.networks_of(svcs.get("frontend") or {}) == {"edge"}, "frontend must be on edge only")
        on_edge = {n for n, s in svcs.items() if "edge" in self.networks_of(s or {})}
        allowed_edge = {"nginx", "gateway", "frontend"} | ({"grafana"} & self.monitoring(svcs))
        self.check(on_edge == allowed_edge, f"edge must hold nginx, gateway and frontend only (and grafana of the monitoring profile), found {sorted(on_edge)}")
        for name, svc in svcs.items():
            self.check(bool(self.networks_of(svc or {})), f"{name}: must name its networks (no default network)")
            self.check((svc or {}).get("network_mode") is None, f"{name}: network_mode bypasses segmentation")
        ports = _as_list((svcs.get("nginx") or {}).get("ports"))
        self.check(len(ports) == 1 and str(ports[0]).endswith(":8080"), f"nginx must publish exactly one port to container :8080, got {ports}")

    def check_volumes(self, svcs: dict) -> None:
        vols = self.c.get("volumes") or {}
        pg = _as_list((svcs.get("postgres") or {}).get("volumes"))
        named = [v.split(":", 1)[0] for v in map(str, pg) if v.endswith(":/var/lib/postgresql/data")]
        self.check(len(named) == 1 and named[0] in vols, "postgres data must live in a named volume declared under volumes:")

    @staticmethod
    def monitoring(svcs: dict) -> set:
        """The services of the monitoring profile present in the file."""
        return {n for n, s in svcs.items() if MONITORING_PROFILE in _as_list((s or {}).get("profiles"))}

    def check_monitoring(self, svcs: dict) -> None:
        present = MONITORING_SERVICES & set(svcs)
        if not present:
            return
        self.check(present == MONITORING_SERVICES, f"monitoring: expected {sorted(MONITORING_SERVICES)} together, found {sorted(present)}")
        for name in sorted(present):
            svc = svcs.get(name) or {}
            self.check(_as_list(svc.get("profiles")) == [MONITORING_PROFILE],
                       f"{name}: must run only with the {MONITORING_PROFILE} profile (profiles: [{MONITORING_PROFILE}])")
            self.check("data" not in self.networks_of(svc), f"{name}: monitoring services must not reach the database network")
            self.check(MONITORING_PROFILE in self.networks_of(svc), f"{name}: must be on the {MONITORING_PROFILE} network")
        for name, svc in svcs.items():
            if name not in MONITORING_SERVICES:
                self.check(not _as_list((svc or {}).get("profiles")), f"{name}: the product's services run without a profile")
        nets = self.c.get("networks") or {}
        self.check(bool((nets.get(MONITORING_PROFILE) or {}).get("internal")), f"network {MONITORING_PROFILE} must be internal: true")
        prom = svcs.get("prometheus") or {}
        self.check(any(str(v).startswith("./infra/prometheus:/etc/prometheus") and str(v).endswith(":ro") for v in _as_list(prom.get("volumes"))),
                   "prometheus: must mount ./infra/prometheus read-only at /etc/prometheus")
        self.check("app" in self.networks_of(prom), "prometheus: must be on app to scrape the services")
        graf = svcs.get("grafana") or {}
        env = self.env_of(graf)
        pw = str(env.get("GF_SECURITY_ADMIN_PASSWORD", ""))
        self.check(bool(INTERPOLATION_ONLY.match(pw)) and "GRAFANA_ADMIN_PASSWORD" in pw,
                   "grafana: GF_SECURITY_ADMIN_PASSWORD must come from .env as ${GRAFANA_ADMIN_PASSWORD...}")
        entry = " ".join(map(str, _as_list(graf.get("entrypoint"))))
        self.check(":?" in pw or ("GF_SECURITY_ADMIN_PASSWORD" in entry and "exit 1" in entry),
                   "grafana: an empty admin password must stop start-up (Grafana would fall back to admin/admin)")
        self.check(str(env.get("GF_USERS_ALLOW_SIGN_UP", "")).lower() == "false", "grafana: sign-up must be off")
        self.check(str(env.get("GF_AUTH_ANONYMOUS_ENABLED", "false")).lower() == "false", "grafana: anonymous access must be off")
        self.check("/monitoring/grafana/" in str(env.get("GF_SERVER_ROOT_URL", "")) and str(env.get("GF_SERVER_SERVE_FROM_SUB_PATH", "")).lower() == "true",
                   "grafana: must serve from /monitoring/grafana/ (nginx's location)")
        self.check(any(str(v).startswith("./infra/grafana/provisioning:/etc/grafana/provisioning") for v in _as_list(graf.get("volumes"))),
                   "grafana: must mount ./infra/grafana/provisioning")
        self.check(MONITORING_SERVICES - {"grafana"} <= set((graf.get("depends_on") or {})), "grafana: must wait for prometheus and jaeger")
        jaeger_env = self.env_of(svcs.get("jaeger") or {})
        self.check(str(jaeger_env.get("COLLECTOR_OTLP_ENABLED", "")).lower() == "true", "jaeger: must accept OTLP (COLLECTOR_OTLP_ENABLED)")
        self.check("app" in self.networks_of(svcs.get("jaeger") or {}), "jaeger: must be on app to receive the services' traces")

    def check_workers(self, svc: dict) -> None:
        self.check((svc.get("deploy") or {}).get("replicas") == 2, "worker-service must run 2 replicas")
        self.check("container_name" not in svc, "worker-service cannot have a container_name (replicas)")

    def check_scalable_gateway(self, svc: dict) -> None:
        """`docker compose up --scale gateway=3`: no fixed name or host port, shared rate limits,
        and each replica's own address for peer forwarding ({ip}, resolved at start-up)."""
        env = self.env_of(svc)
        self.check("container_name" not in svc and not svc.get("ports"), "gateway cannot have a container_name or host ports (--scale)")
        self.check(str(env.get("GATEWAY_PEER_URL", "")).startswith("http://{ip}:"),
                   "gateway GATEWAY_PEER_URL must be http://{ip}:<port> (each replica's own address under --scale)")
        self.check(env.get("RATE_LIMIT_STORE") == "redis", "gateway RATE_LIMIT_STORE must be redis (limits shared by replicas)")

    def check_files(self, svcs: dict) -> None:
        ignore = _dockerignore(self.read(".dockerignore") or "")
        for name, svc in svcs.items():
            build = (svc or {}).get("build")
            if not build:
                continue
            ctx = os.path.normpath(os.path.join(self.root, build.get("context", ".")))
            dockerfile = build.get("dockerfile", "Dockerfile")
            text = self.read(os.path.relpath(os.path.join(ctx, dockerfile), self.root))
            if not self.check(text is not None, f"{name}: Dockerfile {dockerfile} is missing"):
                continue
            self.check_dockerfile(name, dockerfile, text, ctx, ignore)
        nginx_conf = self.read("infra/nginx/nginx.conf") or ""
        mounts = [str(v) for v in _as_list((svcs.get("nginx") or {}).get("volumes"))]
        self.check(any(m.startswith("./infra/nginx/nginx.conf:/etc/nginx/nginx.conf") for m in mounts),
                   "nginx must mount ./infra/nginx/nginx.conf as /etc/nginx/nginx.conf")
        self.check(re.search(r"server\s+gateway:8000\s*;", nginx_conf) is not None, "infra/nginx/nginx.conf: upstream must be gateway:8000")
        self.check(re.search(r"server\s+frontend:8080\s*;", nginx_conf) is not None, "infra/nginx/nginx.conf: upstream must be frontend:8080")
        self.check(re.search(r"listen\s+8080\b", nginx_conf) is not None, "infra/nginx/nginx.conf: must listen on 8080")
        fe_conf = self.read("frontend/nginx.conf") or ""
        self.check(re.search(r"listen\s+8080\b", fe_conf) is not None, "frontend/nginx.conf: must listen on 8080")
        self.check("8080" in " ".join(map(str, _as_list(((svcs.get("frontend") or {}).get("healthcheck") or {}).get("test")))),
                   "frontend: healthcheck must probe :8080")
        limit = re.search(r"client_max_body_size\s+(\d+)([kKmM]?)\s*;", nginx_conf)
        server_rs = self.read("crates/common/src/server.rs") or ""
        body = re.search(r"BODY_LIMIT_BYTES:\s*usize\s*=\s*([0-9_ *]+);", server_rs)
        if limit and body:
            mult = {"": 1, "k": 1024, "m": 1024 * 1024}[limit.group(2).lower()]
            gateway_limit = eval(body.group(1).replace("_", ""), {"__builtins__": {}})  # digits, * and spaces only
            self.check(int(limit.group(1)) * mult == gateway_limit,
                       f"nginx client_max_body_size ({limit.group(0)}) != gateway BODY_LIMIT_BYTES ({gateway_limit})")
        else:
            self.check(limit is not None, "infra/nginx/nginx.conf: client_max_body_size missing")

    def check_dockerfile(self, name: str, path: str, text: str, ctx: str, ignore: list) -> None:
        lines = _logical_lines(text)
        froms = [l for l in lines if l.upper().startswith("FROM ")]
        self.check(len(froms) >= 2, f"{name}: {path} must be multi-stage")
        last = text[text.upper().rfind("\nFROM "):]
        users = re.findall(r"^USER\s+(\S+)", last, re.M)
        self.check(bool(users) and users[-1].split(":")[0] not in {"root", "0"}, f"{name}: {path} final stage must switch to a non-root USER")
        for l in lines:
            word = l.split(None, 1)[0].upper() if l.strip() else ""
            if word in {"ENV", "ARG"}:
                for key in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", l):
                    self.check(not SECRET_KEY.search(key.upper()), f"{name}: {path} bakes {key} into the image")
            if word in {"COPY", "ADD"} and "--from=" not in l:
                parts = [p for p in l.split()[1:] if not p.startswith("--")]
                if parts and parts[0].startswith("["):
                    continue
                for src in parts[:-1]:
                    if src == ".":
                        continue
                    matches = _glob(ctx, src)
                    self.check(bool(matches), f"{name}: {path} copies {src}, which does not exist in the build context")
                    rel = [os.path.relpath(m, ctx) for m in matches]
                    self.check(not rel or not all(_ignored(r, ignore) for r in rel), f"{name}: {path} copies {src}, which .dockerignore excludes")
        if "cargo" in text:
            self.check("cargo chef cook" in text, f"{name}: {path} must cache dependencies (cargo chef cook)")


def _as_list(v) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _logical_lines(text: str) -> list[str]:
    out, cur = [], ""
    for raw in text.splitlines():
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        out.append(cur + s)
        cur = ""
    return out


def _dockerignore(text: str) -> list[tuple[bool, str]]:
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        rules.append((neg, line.lstrip("!").lstrip("/")))
    return rules


def _ignored(rel: str, rules: list) -> bool:
    verdict = False
    for neg, pat in rules:
        pats = [pat]
        if pat.startswith("**/"):
            pats.append(pat[3:])
        if any(fnmatch.fnmatch(rel, p) or rel.startswith(p.rstrip("/") + "/") for p in pats):
            verdict = not neg
    return verdict


def _glob(ctx: str, src: str) -> list[str]:
    import glob

    return glob.glob(os.path.join(ctx, src.rstrip("/")))


def self_test(root: str, base: dict) -> int:
    """Each mutation must make the checker fail, or the checker is too weak."""

    def mutate(fn):
        c = copy.deepcopy(base)
        fn(c)
        return c

    s = lambda c: c["services"]  # noqa: E731
    cases = {
        "no healthcheck": lambda c: s(c)["model-service"].pop("healthcheck"),
        "depends_on list form": lambda c: s(c)["gateway"].__setitem__("depends_on", ["postgres"]),
        "service_started": lambda c: s(c)["gateway"]["depends_on"]["model-service"].__setitem__("condition", "service_started"),
        "gateway before migrations": lambda c: s(c)["gateway"]["depends_on"].pop("migrate"),
        "migrate waited for as healthy": lambda c: s(c)["worker-service"]["depends_on"]["migrate"].__setitem__("condition", "service_healthy"),
        "redis published": lambda c: s(c)["redis"].__setitem__("ports", ["6379:6379"]),
        "published db port": lambda c: s(c)["postgres"].__setitem__("ports", ["5432:5432"]),
        "model on data": lambda c: s(c)["model-service"]["networks"].append("data"),
        "data not internal": lambda c: c["networks"].__setitem__("data", {}),
        "bind-mounted db": lambda c: s(c)["postgres"].__setitem__("volumes", ["./pg:/var/lib/postgresql/data"]),
        "no restart": lambda c: s(c)["frontend"].pop("restart"),
        "no limits": lambda c: s(c)["gateway"]["deploy"].pop("resources"),
        "inline password": lambda c: s(c)["postgres"]["environment"].__setitem__("POSTGRES_PASSWORD", "hunter2"),
        "inline url password": lambda c: s(c)["gateway"]["environment"].__setitem__("DATABASE_URL", "postgres://u:hunter2@postgres/db"),
        "inline api key": lambda c: s(c)["model-service"]["environment"].__setitem__("GROQ_API_KEY", "gsk_live"),
        "one worker": lambda c: s(c)["worker-service"]["deploy"].__setitem__("replicas", 1),
        "grafana without profile": lambda c: s(c)["grafana"].pop("profiles"),
        "prometheus on data": lambda c: s(c)["prometheus"]["networks"].append("data"),
        "prometheus on edge": lambda c: s(c)["prometheus"]["networks"].append("edge"),
        "grafana password inline": lambda c: s(c)["grafana"]["environment"].__setitem__("GF_SECURITY_ADMIN_PASSWORD", "admin"),
        "grafana password optional": lambda c: s(c)["grafana"].pop("entrypoint"),
        "grafana anonymous": lambda c: s(c)["grafana"]["environment"].__setitem__("GF_AUTH_ANONYMOUS_ENABLED", "true"),
        "grafana published": lambda c: s(c)["grafana"].__setitem__("ports", ["3000:3000"]),
        "monitoring not internal": lambda c: c["networks"].__setitem__("monitoring", {}),
        "gateway behind a profile": lambda c: s(c)["gateway"].__setitem__("profiles", ["monitoring"]),
        "gateway peer url fixed": lambda c: s(c)["gateway"]["environment"].__setitem__("GATEWAY_PEER_URL", "http://gateway:8000"),
        "gateway container_name": lambda c: s(c)["gateway"].__setitem__("container_name", "sable-gateway"),
        "per-replica limits": lambda c: s(c)["gateway"]["environment"].__setitem__("RATE_LIMIT_STORE", "memory"),
        "wrong health port": lambda c: s(c)["gateway"]["healthcheck"].__setitem__("test", ["CMD", "curl", "http://127.0.0.1:9999/health"]),
    }
    weak = []
    for label, fn in cases.items():
        ch = Checker(root, mutate(fn), read_files=False)
        ch.run()
        if not ch.failures:
            weak.append(label)
    if weak:
        print(f"self-test FAILED: the checker accepted: {', '.join(weak)}")
        return 1
    print(f"self-test ok: {len(cases)} broken variants all rejected")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--file", default="docker-compose.yml")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    with open(os.path.join(root, args.file), encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    if args.self_test:
        return self_test(root, compose)
    ch = Checker(root, compose)
    ch.run()
    for msg in ch.failures:
        print(f"FAIL {msg}")
    print(f"policy: {ch.passed} checks passed, {len(ch.failures)} failed")
    return 1 if ch.failures else 0


if __name__ == "__main__":
    sys.exit(main())
