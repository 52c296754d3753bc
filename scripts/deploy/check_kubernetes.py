#!/usr/bin/env python3
"""Cross-object checks for the rendered Kubernetes manifests (deploy/kubernetes/).

`kubernetes-validate --strict` proves each object is valid on its own; this proves they fit
together and are the deployment we mean:

  - every workload's selector matches its pod labels; every Service, PDB, HPA, topology
    spread and NetworkPolicy selects something that exists;
  - Service targetPorts are container ports of the pods they select; Ingress backends are
    Services and ports that exist, and the Ingress sends the gateway exactly the paths that
    Compose's edge nginx (infra/nginx/nginx.conf) sends it;
  - every env var a Sable container gets (env and envFrom) is one its binary reads (the
    `[env: NAME]` lines of its --help), helpers used only as $(NAME) excepted, and every
    variable a networked deployment needs is set;
  - every Secret/ConfigMap name and key referenced is defined (optional ones included), and
    every ConfigMap key is one of .env.example's;
  - probe paths are routes the service serves; liveness /health, readiness /health/ready;
  - images pinned (a version tag or a digest, never latest); non-root, read-only root
    filesystem, no privilege escalation, all capabilities dropped; requests and limits;
  - terminationGracePeriodSeconds above the preStop pause plus SHUTDOWN_GRACE_SECS;
  - a PodDisruptionBudget and topology spread for every long-running workload;
  - NetworkPolicies, evaluated for every pair of endpoints and port: each flow the services
    need is allowed, and nothing else is.

With --bin-dir, each Sable container's binary is also started with exactly the environment
the manifests give it (ConfigMap values, the Secret example, $(VAR) substitution; addresses
moved to loopback and the database to a closed port): it must get past its configuration to
the database connection (or to listening), so every value parses and validates. And with the
Secret example's placeholders left as they are, the gateway must refuse to start.

Usage: check_kubernetes.py --root DIR --help-dir DIR [--bin-dir DIR] OVERLAY=RENDERED.yaml ... [--self-test]
(--help-dir holds gateway.txt, model-service.txt, worker-service.txt: each binary's --help.)
Exit status 0 when every check passes, 1 otherwise (each failure is printed).
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import copy
import ipaddress
import os
import re
import subprocess
import sys

import yaml

NAMESPACE = "sable"
NAME = "app.kubernetes.io/name"
RUST = {"gateway", "model-service", "worker-service"}
# Container name -> the binary whose --help lists what it reads.
BINARY = {"gateway": "gateway", "migrate": "gateway", "model-service": "model-service", "worker-service": "worker-service"}
# What a networked deployment must set (each also checked to be in the binary's --help).
# The bind addresses: the internal services default to loopback.
REQUIRED = {
    "gateway": {"DATABASE_URL", "JWT_SECRET", "INTERNAL_TOKEN", "REDIS_URL", "GATEWAY_PEER_URL", "GATEWAY_ADDR",
                "MODEL_SERVICE_URL", "WORKER_SERVICE_URL", "ALLOWED_ORIGINS", "SKIP_MIGRATIONS", "TRUSTED_PROXIES"},
    "migrate": {"DATABASE_URL", "AUTH_MODE"},
    "model-service": {"INTERNAL_TOKEN", "MODEL_SERVICE_ADDR"},
    "worker-service": {"DATABASE_URL", "INTERNAL_TOKEN", "WORKER_SERVICE_ADDR", "MODEL_SERVICE_URL"},
}
# Values that must hold (what the flows and the shared limits depend on).
EXPECTED_VALUES = {
    "gateway": {"RATE_LIMIT_STORE": "redis", "GATEWAY_ADDR": "0.0.0.0:8000", "AUTH_MODE": "jwt"},
    "model-service": {"MODEL_SERVICE_ADDR": "0.0.0.0:8001"},
    "worker-service": {"WORKER_SERVICE_ADDR": "0.0.0.0:8002"},
}
# Where each container's probe paths must be served.
ROUTE_SOURCES = {
    "gateway": ["crates/gateway/src"],
    "model-service": ["crates/model-service/src"],
    "worker-service": ["crates/worker-service/src"],
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
LONG_RUNNING = {"Deployment", "StatefulSet"}

# ---- the network model ----------------------------------------------------------------
# Endpoints outside the namespace: the ingress controller, cluster DNS, a public provider
# API, any other pod in the cluster; and per overlay, where Postgres and Redis live.
INGRESS_CONTROLLER = {"ns": "ingress-nginx", "labels": {NAME: "ingress-nginx"}, "ip": "10.244.9.1", "ports": []}
DNS = {"ns": "kube-system", "labels": {"k8s-app": "kube-dns"}, "ip": "10.244.9.2", "ports": [("UDP", 53), ("TCP", 53)]}
INTERNET = {"ns": None, "labels": {}, "ip": "203.0.113.10", "ports": [("TCP", 443), ("TCP", 80)]}
METADATA = {"ns": None, "labels": {}, "ip": "169.254.169.254", "ports": [("TCP", 80)]}
STRANGER = {"ns": "default", "labels": {"app": "other"}, "ip": "10.244.9.3", "ports": [("TCP", 8080), ("TCP", 5432)]}
# The production overlay's managed Postgres and Redis, inside its placeholder range.
MANAGED = {
    "postgres": {"ns": None, "labels": {}, "ip": "10.10.0.5", "ports": [("TCP", 5432)]},
    "redis": {"ns": None, "labels": {}, "ip": "10.10.0.6", "ports": [("TCP", 6379)]},
}
# (from, to, port): every flow the services need. "postgres"/"redis" are the in-cluster
# pods (dev) or the managed endpoints (production).
NEEDED = [
    ("ingress-controller", "gateway", 8000),
    ("ingress-controller", "frontend", 8080),
    ("gateway", "gateway", 8000),
    ("gateway", "model-service", 8001),
    ("gateway", "worker-service", 8002),
    ("worker-service", "model-service", 8001),
    ("gateway", "postgres", None),
    ("worker-service", "postgres", None),
    ("migrate", "postgres", None),
    ("gateway", "redis", None),
    ("model-service", "internet", 443),
] + [(s, "dns", 53) for s in ("gateway", "model-service", "worker-service", "migrate")]


def parse_duration(value: str) -> float:
    """The services' duration syntax (.env.example): 10s, 200ms, 1m30s; a bare number in seconds."""
    if re.fullmatch(r"\d+", value):
        return float(value)
    total, rest = 0.0, value
    for amount, unit in re.findall(r"(\d+)(ms|s|m|h)", value):
        total += int(amount) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
        rest = rest.replace(amount + unit, "", 1)
    if rest:
        raise ValueError(f"not a duration: {value!r}")
    return total


def help_env(text: str) -> set[str]:
    return set(re.findall(r"\[env: ([A-Z0-9_]+)", text))


def matches(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a label set."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op, key, values = e["operator"], e["key"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Overlay:
    def __init__(self, name: str, docs: list[dict]):
        self.name = name
        self.docs = [d for d in docs if d]

    def of(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d.get("kind") == kind]

    def workloads(self) -> list[dict]:
        return [d for d in self.docs if d.get("kind") in WORKLOAD_KINDS]

    def get(self, kind: str, name: str) -> dict | None:
        for d in self.of(kind):
            if d["metadata"]["name"] == name:
                return d
        return None


def pod_spec(w: dict) -> dict:
    return w["spec"]["template"]["spec"]


def pod_labels(w: dict) -> dict:
    return w["spec"]["template"]["metadata"].get("labels") or {}


def containers(w: dict) -> list[dict]:
    spec = pod_spec(w)
    return (spec.get("initContainers") or []) + spec["containers"]


class Checker:
    def __init__(self, root: str, helps: dict[str, str]):
        self.root = root
        self.env = {b: help_env(t) for b, t in helps.items()}
        self.failures: list[str] = []
        self.passed = 0
        self.routes = {c: self._routes(dirs) for c, dirs in ROUTE_SOURCES.items()}
        self.routes["frontend"] = self._frontend_paths()

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)
        return ok

    def _routes(self, dirs: list[str]) -> set[str]:
        found = set()
        for d in dirs:
            for base, _, files in os.walk(os.path.join(self.root, d)):
                for f in files:
                    if f.endswith(".rs"):
                        with open(os.path.join(base, f), encoding="utf-8") as fh:
                            found |= set(re.findall(r'\.route\(\s*"([^"]+)"', fh.read()))
        return found

    def _frontend_paths(self) -> set[str]:
        paths = set()
        with open(os.path.join(self.root, "frontend/nginx.conf"), encoding="utf-8") as fh:
            paths |= set(re.findall(r"location = (/\S+)", fh.read()))
        if os.path.exists(os.path.join(self.root, "frontend/index.html")):
            paths.add("/index.html")
        return paths

    # ---- run ---------------------------------------------------------------------------
    def run(self, o: Overlay) -> None:
        p = f"[{o.name}]"
        self.check(all(d["metadata"].get("namespace") == NAMESPACE for d in o.docs if d["kind"] != "Namespace"),
                   f"{p} every object is in the namespace {NAMESPACE}")
        self.selectors(o, p)
        self.ports(o, p)
        self.refs(o, p)
        self.envs(o, p)
        self.pods(o, p)
        self.network(o, p)

    def selectors(self, o: Overlay, p: str) -> None:
        all_pods = [pod_labels(w) for w in o.workloads()]
        for w in o.workloads():
            n = f"{p} {w['kind']}/{w['metadata']['name']}"
            sel = w["spec"].get("selector")
            if w["kind"] != "Job":
                self.check(matches(sel, pod_labels(w)), f"{n}: selector {sel} does not match its pod labels {pod_labels(w)}")
            for t in pod_spec(w).get("topologySpreadConstraints") or []:
                self.check(matches(t.get("labelSelector"), pod_labels(w)), f"{n}: topology spread selects other pods than its own")
        for kind in ("Service", "PodDisruptionBudget"):
            for d in o.of(kind):
                sel = d["spec"].get("selector")
                sel = {"matchLabels": sel} if kind == "Service" else sel
                self.check(any(matches(sel, labels) for labels in all_pods),
                           f"{p} {kind}/{d['metadata']['name']}: its selector matches no pod")
        for d in o.of("NetworkPolicy"):
            self.check(any(matches(d["spec"]["podSelector"], labels) for labels in all_pods),
                       f"{p} NetworkPolicy/{d['metadata']['name']}: selects no pod")
        for h in o.of("HorizontalPodAutoscaler"):
            ref = h["spec"]["scaleTargetRef"]
            target = o.get(ref["kind"], ref["name"])
            self.check(target is not None, f"{p} HPA/{h['metadata']['name']}: no {ref['kind']}/{ref['name']}")
            if target is not None:
                self.check("replicas" not in target["spec"],
                           f"{p} {ref['kind']}/{ref['name']}: sets replicas while an HPA scales it (apply would fight the HPA)")
        for w in o.workloads():
            if w["kind"] in LONG_RUNNING:
                labels = pod_labels(w)
                self.check(any(matches(d["spec"]["selector"], labels) for d in o.of("PodDisruptionBudget")),
                           f"{p} {w['kind']}/{w['metadata']['name']}: no PodDisruptionBudget")

    def ports(self, o: Overlay, p: str) -> None:
        for s in o.of("Service"):
            pods = [w for w in o.workloads() if matches({"matchLabels": s["spec"]["selector"]}, pod_labels(w))]
            for port in s["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                for w in pods:
                    cports = [cp for c in containers(w) for cp in c.get("ports") or []]
                    ok = any(cp.get("name") == target or cp["containerPort"] == target for cp in cports)
                    self.check(ok, f"{p} Service/{s['metadata']['name']}: targetPort {target} is not a container port of {w['kind']}/{w['metadata']['name']}")
        self.ingress_matches_compose(o, p)
        for ing in o.of("Ingress"):
            for rule in ing["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    b = path["backend"]["service"]
                    svc = o.get("Service", b["name"])
                    ok = svc is not None and any(
                        sp.get("name") == b["port"].get("name") or sp["port"] == b["port"].get("number")
                        for sp in svc["spec"]["ports"])
                    self.check(ok, f"{p} Ingress {path['path']}: no Service {b['name']} with port {b['port']}")

    def ingress_matches_compose(self, o: Overlay, p: str) -> None:
        """The Ingress sends the gateway what Compose's edge nginx sends it, and nothing more
        (e.g. never /metrics)."""
        with open(os.path.join(self.root, "infra/nginx/nginx.conf"), encoding="utf-8") as fh:
            text = fh.read()
        compose = {m.group(2).rstrip("/") for m in re.finditer(r"location\s+(=\s+)?(\S+)\s*\{([^{}]*)\}", text)
                   if "proxy_pass http://gateway" in m.group(3)}
        ingress = {path["path"].rstrip("/") for ing in o.of("Ingress") for rule in ing["spec"]["rules"]
                   for path in rule["http"]["paths"] if path["backend"]["service"]["name"] == "gateway"}

        def covered(path: str, prefixes: set[str]) -> bool:
            return any(path == q or path.startswith(q + "/") for q in prefixes)

        missing = sorted(x for x in compose if not covered(x, ingress))
        extra = sorted(x for x in ingress if not covered(x, compose))
        self.check(not missing, f"{p} Ingress: gateway paths of infra/nginx/nginx.conf not routed: {missing}")
        self.check(not extra, f"{p} Ingress: gateway paths that infra/nginx/nginx.conf does not route: {extra}")

    def data(self, o: Overlay, kind: str, name: str) -> dict | None:
        d = o.get(kind, name)
        if d is None:
            return None
        return dict(d.get("data") or {}) | dict(d.get("stringData") or {})

    def refs(self, o: Overlay, p: str) -> None:
        for w in o.workloads():
            for c in containers(w):
                n = f"{p} {w['metadata']['name']}/{c['name']}"
                for e in c.get("env") or []:
                    vf = e.get("valueFrom") or {}
                    for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                        if key in vf:
                            ref = vf[key]
                            d = self.data(o, kind, ref["name"])
                            self.check(d is not None and ref["key"] in d,
                                       f"{n}: {e['name']} refers to {kind} {ref['name']} key {ref['key']}, which is not defined")
                for ef in c.get("envFrom") or []:
                    for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                        if key in ef:
                            self.check(o.get(kind, ef[key]["name"]) is not None, f"{n}: envFrom {kind} {ef[key]['name']} is not defined")

    def container_env(self, o: Overlay, c: dict) -> dict[str, str | None]:
        """Name -> value (None when it comes from a Secret or the downward API)."""
        env: dict[str, str | None] = {}
        for ef in c.get("envFrom") or []:
            if "configMapRef" in ef:
                env |= self.data(o, "ConfigMap", ef["configMapRef"]["name"]) or {}
            if "secretRef" in ef:
                env |= {k: None for k in self.data(o, "Secret", ef["secretRef"]["name"]) or {}}
        for e in c.get("env") or []:
            env[e["name"]] = e.get("value")
        return env

    def env_example_keys(self) -> set[str]:
        with open(os.path.join(self.root, ".env.example"), encoding="utf-8") as fh:
            return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", fh.read(), re.MULTILINE))

    def envs(self, o: Overlay, p: str) -> None:
        documented = self.env_example_keys()
        for cm in o.of("ConfigMap"):
            for key in cm.get("data") or {}:
                self.check(key in documented, f"{p} ConfigMap/{cm['metadata']['name']}: {key} is not a .env.example key")
        for w in o.workloads():
            for c in containers(w):
                binary = BINARY.get(c["name"])
                if binary is None:
                    continue
                n = f"{p} {w['metadata']['name']}/{c['name']}"
                env = self.container_env(o, c)
                helpers = {m for v in env.values() if v for m in re.findall(r"\$\(([A-Z0-9_]+)\)", v)}
                for name in env:
                    self.check(name in self.env[binary] or name in helpers,
                               f"{n}: {name} is not read by {binary} (not in its --help)")
                for name in REQUIRED[c["name"]]:
                    self.check(name in self.env[binary], f"checker: {name} is required but {binary} does not read it")
                    self.check(name in env and env[name] != "", f"{n}: required {name} is not set")
                for name, want in EXPECTED_VALUES.get(c["name"], {}).items():
                    self.check(env.get(name) == want, f"{n}: {name} is {env.get(name)!r}, expected {want!r}")
                for name in helpers:
                    self.check(name in env, f"{n}: $({name}) is used but {name} is not defined before it")

    def pods(self, o: Overlay, p: str) -> None:
        for w in o.workloads():
            spec = pod_spec(w)
            n = f"{p} {w['kind']}/{w['metadata']['name']}"
            psc = spec.get("securityContext") or {}
            self.check(psc.get("runAsNonRoot") is True, f"{n}: runAsNonRoot is not set")
            self.check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", f"{n}: no RuntimeDefault seccomp profile")
            self.check(spec.get("automountServiceAccountToken") is False, f"{n}: mounts a service account token")
            if w["kind"] in LONG_RUNNING:
                self.check(bool(spec.get("topologySpreadConstraints")) or w["kind"] == "StatefulSet",
                           f"{n}: no topology spread")
            for c in containers(w):
                cn = f"{n}/{c['name']}"
                image = c["image"]
                pinned = "@sha256:" in image or bool(re.search(r":[^/:]*\d[^/:]*$", image))
                self.check(pinned and not image.endswith(":latest"), f"{cn}: image {image} is not pinned to a version tag or digest")
                sc = c.get("securityContext") or {}
                self.check(sc.get("readOnlyRootFilesystem") is True, f"{cn}: root filesystem is writable")
                self.check(sc.get("allowPrivilegeEscalation") is False, f"{cn}: privilege escalation is allowed")
                self.check((sc.get("capabilities") or {}).get("drop") == ["ALL"], f"{cn}: capabilities are not all dropped")
                res = c.get("resources") or {}
                for part in ("requests", "limits"):
                    self.check({"cpu", "memory"} <= set(res.get(part) or {}), f"{cn}: no cpu and memory {part}")
                if w["kind"] not in LONG_RUNNING:
                    continue
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    self.check(probe in c, f"{cn}: no {probe}")
                    path = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
                    if path is not None:
                        served = self.routes.get(c["name"], set())
                        self.check(path in served, f"{cn}: {probe} path {path} is not served (routes: {sorted(served)})")
                if c["name"] in RUST:
                    self.check(c["livenessProbe"]["httpGet"]["path"] == "/health", f"{cn}: liveness is not /health")
                    self.check(c["readinessProbe"]["httpGet"]["path"] == "/health/ready", f"{cn}: readiness is not /health/ready")
                    env = self.container_env(o, c)
                    grace = parse_duration(env.get("SHUTDOWN_GRACE_SECS") or "10")
                    pre = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
                    pause = float(pre[1]) if len(pre) == 2 and pre[0] == "sleep" else None
                    self.check(pause is not None and pause > 0, f"{cn}: no preStop pause (endpoints must drain before SIGTERM)")
                    # The worker adds 5 s after the grace for its final writes.
                    need = (pause or 0) + grace + (5 if c["name"] == "worker-service" else 0)
                    self.check(spec.get("terminationGracePeriodSeconds", 30) > need,
                               f"{cn}: terminationGracePeriodSeconds {spec.get('terminationGracePeriodSeconds', 30)} is not above preStop + SHUTDOWN_GRACE_SECS ({need:g} s)")

    # ---- NetworkPolicy evaluation ------------------------------------------------------
    def endpoints(self, o: Overlay) -> dict[str, dict]:
        eps: dict[str, dict] = {}
        for i, w in enumerate(o.workloads()):
            labels = pod_labels(w)
            ports = [(cp.get("protocol", "TCP"), cp["containerPort"], cp.get("name")) for c in containers(w) for cp in c.get("ports") or []]
            eps[labels.get(NAME, w["metadata"]["name"])] = {"ns": NAMESPACE, "labels": labels, "ip": f"10.244.0.{i + 10}", "ports": ports}
        eps["ingress-controller"] = INGRESS_CONTROLLER
        eps["dns"] = DNS
        eps["internet"] = INTERNET
        eps["metadata"] = METADATA
        eps["stranger"] = STRANGER
        for name, ep in MANAGED.items():
            if name not in eps:
                eps[name] = ep
        return eps

    @staticmethod
    def ns_labels(ns: str | None) -> dict:
        return {"kubernetes.io/metadata.name": ns} if ns else {}

    def peer_matches(self, peer: dict, ep: dict) -> bool:
        if "ipBlock" in peer:
            ip = ipaddress.ip_address(ep["ip"])
            block = peer["ipBlock"]
            return ip in ipaddress.ip_network(block["cidr"]) and not any(ip in ipaddress.ip_network(x) for x in block.get("except") or [])
        if ep["ns"] is None:
            return False
        if "namespaceSelector" in peer:
            if not matches(peer["namespaceSelector"], self.ns_labels(ep["ns"])) and peer["namespaceSelector"] != {}:
                return False
        elif ep["ns"] != NAMESPACE:
            return False
        if "podSelector" in peer:
            return peer["podSelector"] == {} or matches(peer["podSelector"], ep["labels"])
        return True

    @staticmethod
    def port_matches(rule_ports: list | None, proto: str, port: int, name: str | None) -> bool:
        if not rule_ports:
            return True
        for rp in rule_ports:
            if rp.get("protocol", "TCP") != proto:
                continue
            want = rp.get("port")
            if want is None or want == port or (name is not None and want == name):
                return True
            if isinstance(want, int) and rp.get("endPort") and want <= port <= rp["endPort"]:
                return True
        return False

    def allowed_one_way(self, o: Overlay, owner: dict, other: dict, direction: str, proto: str, port: int, name: str | None) -> bool:
        """Whether `owner`'s policies of `direction` (Ingress/Egress) let traffic to/from `other` through."""
        if owner["ns"] != NAMESPACE:
            return True  # not our policies
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        selecting = [np for np in o.of("NetworkPolicy")
                     if direction in np["spec"].get("policyTypes", ["Ingress"]) and
                     (np["spec"]["podSelector"] == {} or matches(np["spec"]["podSelector"], owner["labels"]))]
        if not selecting:
            return True
        for np in selecting:
            for rule in np["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if (not peers or any(self.peer_matches(pe, other) for pe in peers)) and self.port_matches(rule.get("ports"), proto, port, name):
                    return True
        return False

    def allowed(self, o: Overlay, src: dict, dst: dict, proto: str, port: int, name: str | None) -> bool:
        return (self.allowed_one_way(o, src, dst, "Egress", proto, port, name)
                and self.allowed_one_way(o, dst, src, "Ingress", proto, port, name))

    def network(self, o: Overlay, p: str) -> None:
        self.check(any(np["spec"]["podSelector"] == {} and set(np["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
                       and not np["spec"].get("ingress") and not np["spec"].get("egress") for np in o.of("NetworkPolicy")),
                   f"{p} no default-deny NetworkPolicy (all pods, both directions)")
        eps = self.endpoints(o)
        needed = set()
        for src, dst, port in NEEDED:
            for p_ in [pt for pt in eps[dst]["ports"] if port is None or pt[1] == port]:
                needed.add((src, dst, p_[0], p_[1]))
        for src, dst, proto, port in sorted(needed):
            name = next((pt[2] for pt in eps[dst]["ports"] if len(pt) > 2 and pt[1] == port), None)
            self.check(self.allowed(o, eps[src], eps[dst], proto, port, name),
                       f"{p} network: {src} cannot reach {dst} {proto}/{port}, which it needs")
        extra = []
        for src_name, src in eps.items():
            for dst_name, dst in eps.items():
                for pt in dst["ports"]:
                    proto, port = pt[0], pt[1]
                    name = pt[2] if len(pt) > 2 else None
                    if (src_name, dst_name, proto, port) in needed:
                        continue
                    # DNS is open to every pod of the namespace (allow-dns).
                    if dst_name == "dns" and src["ns"] == NAMESPACE:
                        continue
                    if src["ns"] != NAMESPACE and dst["ns"] != NAMESPACE:
                        continue  # neither end is ours
                    if self.allowed(o, src, dst, proto, port, name):
                        extra.append(f"{src_name} -> {dst_name} {proto}/{port}")
        self.check(not extra, f"{p} network: flows allowed that no service needs: {', '.join(extra)}")


# ---- start each binary with its manifest environment --------------------------------------
# Placeholders of the Secret examples ("change-me") are refused by the binaries on purpose;
# these stand in for an operator's real values.
REAL_SECRETS = {"JWT_SECRET": "k" * 48, "INTERNAL_TOKEN": "t" * 48}
CLOSED_DATABASE = "postgres://sable:secret@127.0.0.1:1/sable"
CONFIG_ACCEPTED = ("listening", "cannot connect to the database")


def resolved_env(o: Overlay, c: dict) -> dict[str, str]:
    """The container's environment as the kubelet would build it."""
    env: dict[str, str] = {}
    for ef in c.get("envFrom") or []:
        if "configMapRef" in ef:
            env |= o.get("ConfigMap", ef["configMapRef"]["name"]).get("data") or {}
    for e in c.get("env") or []:
        if "value" in e:
            value = e["value"]
            value = re.sub(r"\$\(([A-Z0-9_]+)\)", lambda m: env.get(m.group(1), m.group(0)), value)
            env[e["name"]] = value
            continue
        vf = e.get("valueFrom") or {}
        if "secretKeyRef" in vf:
            ref = vf["secretKeyRef"]
            data = (o.get("Secret", ref["name"]) or {}).get("data") or {}
            if ref["key"] in data:
                env[e["name"]] = base64.b64decode(data[ref["key"]]).decode()
        elif "fieldRef" in vf:
            env[e["name"]] = "127.0.0.1"  # status.podIP
    return env


def start(binary: str, args: list[str], env: dict[str, str]) -> tuple[bool, str]:
    """Runs the binary until it listens or exits (at most 20 s); whether it got past its
    configuration, and its last lines."""
    proc = subprocess.Popen([binary, *args], env={"PATH": os.environ.get("PATH", ""), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if "listening" in line:
                break
    finally:
        proc.kill()
        proc.wait(timeout=20)
    text = "\n".join(lines)
    return any(marker in text for marker in CONFIG_ACCEPTED), "\n".join(lines[-3:])


def start_checks(overlays: list[Overlay], bin_dir: str) -> list[str]:
    runs: dict[str, tuple[str, list[str], dict[str, str]]] = {}
    for o in overlays:
        for w in o.workloads():
            for c in containers(w):
                binary = BINARY.get(c["name"])
                if binary is None:
                    continue
                env = resolved_env(o, c)
                env |= {k: v for k, v in REAL_SECRETS.items() if k in env}
                env |= {k: "127.0.0.1:0" for k in env if k.endswith("_ADDR")}
                env |= {"DATABASE_URL": CLOSED_DATABASE, "DATABASE_ACQUIRE_TIMEOUT_SECS": "1s"} if "DATABASE_URL" in env else {}
                args = list(c.get("args") or [])
                key = repr((binary, args, sorted(env.items())))
                runs.setdefault(key, (f"{o.name} {w['metadata']['name']}/{c['name']}", [os.path.join(bin_dir, binary), *args], env))
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = {label: pool.submit(start, cmd[0], cmd[1:], env) for label, cmd, env in runs.values()}
        # Each of the examples' placeholder secrets alone stops a gateway, with its name.
        o = overlays[0]
        gw = next(c for w in o.workloads() for c in containers(w) if c["name"] == "gateway")
        base_env = resolved_env(o, gw) | {"DATABASE_URL": CLOSED_DATABASE, "DATABASE_ACQUIRE_TIMEOUT_SECS": "1s"}
        base_env |= {k: "127.0.0.1:0" for k in base_env if k.endswith("_ADDR")}
        placeholders = {
            name: pool.submit(start, os.path.join(bin_dir, "gateway"), [],
                              base_env | {k: v for k, v in REAL_SECRETS.items() if k != name})
            for name in REAL_SECRETS
        }
        for label, future in results.items():
            ok, tail = future.result()
            print(f"  {'ok  ' if ok else 'FAIL'} {label} starts with its manifest environment")
            if not ok:
                failures.append(f"{label}: stopped before its database connection:\n{tail}")
        for name, future in placeholders.items():
            started, tail = future.result()
            refused = not started and name in tail
            print(f"  {'ok  ' if refused else 'FAIL'} {o.name} gateway refuses the Secret example's placeholder {name}")
            if not refused:
                failures.append(f"{o.name}: the gateway did not refuse the Secret example's placeholder {name}:\n{tail}")
    return failures


# ---- self-test: broken variants must be rejected ---------------------------------------------
def find(docs: list[dict], kind: str, name: str) -> dict:
    for d in docs:
        if d.get("kind") == kind and d["metadata"]["name"].startswith(name):
            return d
    raise KeyError(f"{kind}/{name}")


def container(docs: list[dict], workload: str) -> dict:
    return find(docs, "Deployment", workload)["spec"]["template"]["spec"]["containers"][0]


def mutations():
    def target_port(d):
        find(d, "Service", "model-service")["spec"]["ports"][0]["targetPort"] = 8081

    def selector(d):
        find(d, "Service", "worker-service")["spec"]["selector"] = {NAME: "workers"}

    def unknown_env(d):
        find(d, "ConfigMap", "sable-gateway")["data"]["GATEWAY_LISTEN"] = "0.0.0.0:8000"

    def missing_key(d):
        del find(d, "Secret", "sable-secrets")["data"]["JWT_SECRET"]

    def missing_required(d):
        c = container(d, "worker-service")
        c["env"] = [e for e in c["env"] if e["name"] != "DATABASE_URL"]

    def latest(d):
        container(d, "frontend")["image"] = "sable-frontend:latest"

    def probe_path(d):
        container(d, "gateway")["readinessProbe"]["httpGet"]["path"] = "/ready"

    def grace(d):
        find(d, "Deployment", "worker-service")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 15

    def writable(d):
        container(d, "model-service")["securityContext"]["readOnlyRootFilesystem"] = False

    def extra_flow(d):
        # Any pod of any namespace may call the gateway directly, past the ingress controller.
        find(d, "NetworkPolicy", "gateway")["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})

    def missing_flow(d):
        eg = find(d, "NetworkPolicy", "gateway")["spec"]["egress"]
        eg[:] = [r for r in eg if r["to"][0].get("podSelector", {}).get("matchLabels", {}).get(NAME) != "model-service"]

    def gateway_internet(d):
        find(d, "NetworkPolicy", "gateway")["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]})

    def no_pdb(d):
        d.remove(find(d, "PodDisruptionBudget", "gateway"))

    def metrics_exposed(d):
        rules = find(d, "Ingress", "sable")["spec"]["rules"][0]["http"]["paths"]
        rules.insert(0, {"path": "/metrics", "pathType": "Exact",
                         "backend": {"service": {"name": "gateway", "port": {"name": "http"}}}})

    def no_peer_url(d):
        c = container(d, "gateway")
        c["env"] = [e for e in c["env"] if e["name"] != "GATEWAY_PEER_URL"]

    return [
        ("Service targetPort not a container port", target_port),
        ("Service selector matches no pod", selector),
        ("env var the gateway does not read", unknown_env),
        ("Secret key referenced but not defined", missing_key),
        ("required DATABASE_URL missing on the worker", missing_required),
        ("image tagged latest", latest),
        ("probe path not served", probe_path),
        ("grace period below preStop + SHUTDOWN_GRACE_SECS + 5 s", grace),
        ("writable root filesystem", writable),
        ("NetworkPolicy allowing more than needed", extra_flow),
        ("NetworkPolicy missing a needed flow", missing_flow),
        ("gateway allowed out to the internet", gateway_internet),
        ("Deployment without a PodDisruptionBudget", no_pdb),
        ("gateway without GATEWAY_PEER_URL", no_peer_url),
        ("Ingress routes /metrics (internal only)", metrics_exposed),
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=".")
    ap.add_argument("--help-dir", required=True)
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--bin-dir", help="start each binary with its manifest environment")
    ap.add_argument("rendered", nargs="+", help="OVERLAY=FILE")
    args = ap.parse_args()
    helps = {}
    for b in ("gateway", "model-service", "worker-service"):
        with open(os.path.join(args.help_dir, f"{b}.txt"), encoding="utf-8") as fh:
            helps[b] = fh.read()
    overlays = []
    for spec in args.rendered:
        name, _, path = spec.partition("=")
        with open(path, encoding="utf-8") as fh:
            overlays.append(Overlay(name, list(yaml.safe_load_all(fh))))

    if not args.self_test:
        c = Checker(args.root, helps)
        for o in overlays:
            c.run(o)
        if args.bin_dir:
            c.failures += start_checks(overlays, args.bin_dir)
        for f in c.failures:
            print(f"FAIL {f}")
        print(f"check_kubernetes: {c.passed} checks passed, {len(c.failures)} failed over {', '.join(o.name for o in overlays)}")
        return 1 if c.failures else 0

    # Each broken variant of each overlay must be rejected; the unbroken one must pass.
    missed = []
    total = 0
    for o in overlays:
        base = Checker(args.root, helps)
        base.run(o)
        if base.failures:
            print(f"self-test: the unmodified {o.name} overlay fails: {base.failures[:3]}")
            return 1
        for label, mutate in mutations():
            docs = copy.deepcopy(o.docs)
            mutate(docs)
            c = Checker(args.root, helps)
            c.run(Overlay(o.name, docs))
            total += 1
            if not c.failures:
                missed.append(f"{o.name}: {label}")
    for m in missed:
        print(f"NOT REJECTED {m}")
    print(f"check_kubernetes self-test: {total - len(missed)} of {total} broken variants rejected")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
