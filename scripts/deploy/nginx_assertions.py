#!/usr/bin/env python3
"""HTTP assertions against the edge nginx in front of the real Sable stack.

Run by scripts/test_nginx.sh (which starts everything); stdlib only.

Usage: nginx_assertions.py BASE_URL DIST_DIR [--gateway-port N] [--phase main|gateway-down]
Prints one line per check and a summary; exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
IMMUTABLE = "public, max-age=31536000, immutable"
BODY_LIMIT = 1024 * 1024


class Result:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"  ok   {what}")
        else:
            self.failed.append(what)
            print(f"  FAIL {what}" + (f": {detail}" if detail else ""))
        return ok


class Client:
    def __init__(self, base: str) -> None:
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 30):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.headers, data
        finally:
            conn.close()


def header_values(headers, name: str) -> list[str]:
    return headers.get_all(name) or []


def check_security_headers(r: Result, where: str, headers) -> None:
    for name, value in SECURITY_HEADERS.items():
        got = header_values(headers, name)
        r.check(got == [value], f"{where}: {name}: {value} (once)", f"got {got}")
    rid = header_values(headers, "x-request-id")
    r.check(len(rid) == 1 and rid[0] != "", f"{where}: one X-Request-ID", f"got {rid}")


def check_csp(r: Result, where: str, csp: str) -> None:
    """The UI policy: no inline or eval'd script but by hash, no framing at all."""
    directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}
    script_src = directives.get("script-src", directives.get("default-src", []))
    r.check(bool(script_src) and not any(t in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:") for t in script_src),
            f"{where}: script-src allows no inline/eval/wildcard script", " ".join(script_src))
    r.check(directives.get("frame-ancestors") == ["'none'"], f"{where}: frame-ancestors 'none'",
            str(directives.get("frame-ancestors")))
    r.check(directives.get("object-src") == ["'none'"], f"{where}: object-src 'none'", str(directives.get("object-src")))


def main_phase(r: Result, c: Client, dist: str, gateway_port: int) -> None:
    with open(os.path.join(dist, "index.html"), "rb") as f:
        index_html = f.read()

    print("== nginx itself")
    st, h, body = c.request("GET", "/nginx-health")
    r.check(st == 200 and body.strip() == b"healthy", "/nginx-health answers 200 healthy", f"{st} {body[:80]!r}")

    print("== single-page app")
    st, h, body = c.request("GET", "/")
    r.check(st == 200 and body == index_html, "/ serves frontend/dist/index.html", f"status {st}, {len(body)} bytes")
    r.check(h.get("content-type", "").startswith("text/html"), "/ is text/html", h.get("content-type", ""))
    r.check(h.get("cache-control") == "no-cache", "index.html: Cache-Control no-cache", str(h.get("cache-control")))
    check_security_headers(r, "/", h)
    csps = header_values(h, "content-security-policy")
    csp = csps[0] if csps else ""
    r.check(len(csps) == 1 and "default-src 'self'" in csp, "/: one Content-Security-Policy", str(csps))
    check_csp(r, "/", csp)
    for script in re.findall(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", index_html, re.S):
        digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
        r.check(f"'sha256-{digest}'" in csp, "CSP allows the inline script of index.html",
                f"add 'sha256-{digest}' to script-src in frontend/nginx.conf")

    st, h, body = c.request("GET", "/chat/abc")
    r.check(st == 200 and body == index_html, "unknown client route /chat/abc falls back to index.html", f"status {st}")
    check_security_headers(r, "/chat/abc", h)
    check_csp(r, "/chat/abc", h.get("content-security-policy", ""))
    r.check(h.get("cache-control") == "no-cache", "fallback index.html: Cache-Control no-cache", str(h.get("cache-control")))
    st, h, body = c.request("GET", "/jobs")
    r.check(st == 200 and body == index_html, "client route /jobs falls back to index.html", f"status {st}")

    assets = sorted(f for f in os.listdir(os.path.join(dist, "assets")) if f.endswith(".js"))
    m = re.search(rb'src="(/assets/[^"]+\.js)"', index_html)
    main_js = m.group(1).decode() if m else f"/assets/{assets[0]}"
    with open(os.path.join(dist, main_js.lstrip("/")), "rb") as f:
        js = f.read()
    st, h, body = c.request("GET", main_js, headers={"Accept-Encoding": "gzip"})
    r.check(st == 200, f"{main_js} 200", str(st))
    r.check(h.get("content-encoding") == "gzip", "JS is gzip-compressed", str(h.get("content-encoding")))
    try:
        plain = gzip.decompress(body) if h.get("content-encoding") == "gzip" else body
    except OSError as e:
        plain = b""
        r.check(False, "JS gzip body decodes", str(e))
    r.check(plain == js, "JS body equals the built file", f"{len(plain)} vs {len(js)} bytes")
    gz_file = os.path.join(dist, main_js.lstrip("/") + ".gz")
    if os.path.exists(gz_file):
        with open(gz_file, "rb") as f:
            r.check(body == f.read(), "JS: the build's precompressed .gz is sent as it is (gzip_static)",
                    f"{len(body)} bytes sent")
    r.check("javascript" in h.get("content-type", ""), "JS content type", h.get("content-type", ""))
    r.check(h.get("cache-control") == IMMUTABLE, "hashed asset: Cache-Control immutable, 1 year", str(h.get("cache-control")))
    r.check("Accept-Encoding" in ",".join(header_values(h, "vary")), "asset: Vary: Accept-Encoding", str(header_values(h, "vary")))
    check_security_headers(r, main_js, h)
    st, h, body = c.request("GET", main_js)
    r.check(st == 200 and h.get("content-encoding") is None and body == js,
            "JS without Accept-Encoding: identity, the built file", f"{st} {h.get('content-encoding')} {len(body)} bytes")
    r.check(h.get("cache-control") == IMMUTABLE, "identity JS: Cache-Control immutable, 1 year", str(h.get("cache-control")))
    css = [f for f in os.listdir(os.path.join(dist, "assets")) if f.endswith(".css")]
    if css:
        st, h, body = c.request("GET", f"/assets/{css[0]}", headers={"Accept-Encoding": "gzip"})
        r.check(st == 200 and h.get("content-encoding") == "gzip", "CSS is gzip-compressed", f"{st} {h.get('content-encoding')}")

    st, h, body = c.request("GET", "/assets/does-not-exist-0000.js")
    r.check(st == 404 and b'id="root"' not in body, "missing hashed asset is 404, not index.html", str(st))
    r.check(h.get("cache-control") != IMMUTABLE, "a 404 is not cached for a year", str(h.get("cache-control")))

    print("== gateway routes")
    st, h, body = c.request("GET", "/health")
    try:
        health = json.loads(body)
    except ValueError:
        health = {}
    r.check(st == 200 and health.get("status") == "healthy" and "gateway" in str(health.get("service")),
            "/health reaches the gateway", f"{st} {body[:120]!r}")
    check_security_headers(r, "/health", h)
    st, h, body = c.request("GET", "/health/ready")
    r.check(st == 200 and b'"ready"' in body, "/health/ready reaches the gateway and is ready", f"{st} {body[:200]!r}")
    st, h, body = c.request("GET", "/openapi.json")
    r.check(st == 200 and b'"openapi"' in body, "/openapi.json reaches the gateway", f"{st} {body[:80]!r}")
    st, h, body = c.request("GET", "/docs")
    r.check(st < 400 and b'id="root"' not in body, "/docs reaches the gateway (not the SPA)", f"{st} {body[:80]!r}")
    st, h, body = c.request("GET", "/metrics")
    r.check(st == 404, "/metrics is not exposed at the edge", str(st))
    # Grafana (compose `monitoring` profile) is not running here: its location must still be
    # its own (never the SPA), resolve at request time (this proxy started without it) and
    # answer the JSON envelope with the edge headers.
    st, h, body = c.request("GET", "/monitoring/grafana/", timeout=15)
    r.check(st in (502, 503, 504) and b'"SERVICE_UNAVAILABLE"' in body and b'id="root"' not in body,
            "/monitoring/grafana/ goes to Grafana (503 envelope while the monitoring profile is down)", f"{st} {body[:120]!r}")
    check_security_headers(r, "/monitoring/grafana/", h)
    st, h, _ = c.request("GET", "/monitoring/grafana")
    r.check(st == 301 and header_values(h, "location") == ["/monitoring/grafana/"],
            "/monitoring/grafana redirects to the sub-path (relative Location)", f"{st} {header_values(h, 'location')}")
    st, h, body = c.request("GET", "/api/v1/does-not-exist")
    r.check(st == 404 and b'"NOT_FOUND"' in body, "an unknown API route is the gateway's 404 envelope", f"{st} {body[:120]!r}")
    check_security_headers(r, "gateway 404", h)

    print("== request ids")
    st, h, _ = c.request("GET", "/health", headers={"X-Request-ID": "nginx-test-123"})
    r.check(header_values(h, "x-request-id") == ["nginx-test-123"], "a sane client X-Request-ID passes through", str(header_values(h, "x-request-id")))
    st, h, _ = c.request("GET", "/health", headers={"X-Request-ID": "x" * 200})
    rid = header_values(h, "x-request-id")
    r.check(len(rid) == 1 and rid[0] != "x" * 200 and len(rid[0]) <= 128, "an oversized X-Request-ID is replaced", str(rid))
    st, h, _ = c.request("GET", "/")
    r.check(re.fullmatch(r"[0-9a-f]{32}", (header_values(h, "x-request-id") or [""])[0]) is not None,
            "nginx generates an id when none is sent (static answers too)", str(header_values(h, "x-request-id")))

    print("== API through nginx")
    req = json.dumps({"prompt": "hello through nginx", "max_tokens": 64}).encode()
    st, h, body = c.request("POST", "/api/v1/generate", req, {"Content-Type": "application/json", "Accept-Encoding": "gzip"})
    if h.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    try:
        gen = json.loads(body)
    except ValueError:
        gen = {}
    r.check(st == 200 and isinstance(gen.get("text"), str) and gen.get("text") and "usage" in gen,
            "POST /api/v1/generate returns a generation", f"{st} {body[:200]!r}")
    check_security_headers(r, "/api/v1/generate", h)

    jobs = json.dumps({"prompts": ["one", "two"]}).encode()
    st, h, body = c.request("POST", "/api/v1/jobs", jobs, {"Content-Type": "application/json"})
    r.check(st == 202 and b"job_id" in body, "POST /api/v1/jobs reaches the worker through the gateway (202)", f"{st} {body[:160]!r}")

    print("== body size limit (1 MiB, same as the gateway)")
    big = b'{"prompt":"' + b"a" * (BODY_LIMIT + 1) + b'"}'
    st, h, body = c.request("POST", "/api/v1/generate", big, {"Content-Type": "application/json"})
    try:
        env = json.loads(body)
    except ValueError:
        env = {}
    r.check(st == 413, "a body over 1 MiB is refused with 413", str(st))
    r.check(env.get("error", {}).get("code") == "PAYLOAD_TOO_LARGE", "413 uses the JSON error envelope", body[:160].decode(errors="replace"))
    r.check(h.get("content-type", "").startswith("application/json"), "413 is application/json", h.get("content-type", ""))
    check_security_headers(r, "413", h)
    under = b'{"prompt":"' + b"a" * (BODY_LIMIT - 64) + b'"}'
    st, h, body = c.request("POST", "/api/v1/generate", under, {"Content-Type": "application/json"})
    r.check(st != 413 and b"PAYLOAD_TOO_LARGE" not in body and h.get("x-process-time") is not None,
            "a body just under 1 MiB passes nginx and reaches the gateway", f"{st} {body[:120]!r}")

    print("== SSE through nginx")
    sse(r, c)

    print("== OpenAI-compatible API through nginx")
    openai_stream(r, c)

    print("== upstream keep-alive")
    for _ in range(10):
        c.request("GET", "/health")
    time.sleep(0.2)
    out = subprocess.run(["ss", "-Htn", "state", "established", f"dst 127.0.0.1:{gateway_port}"],
                         capture_output=True, text=True, check=False).stdout
    idle = [l for l in out.splitlines() if l.strip()]
    r.check(len(idle) >= 1, "idle keep-alive connections to the gateway stay open", f"{len(idle)} established")


def openai_stream(r: Result, c: Client) -> None:
    req = json.dumps({"model": "llama-3.3-70b-versatile", "stream": True,
                      "messages": [{"role": "user", "content": "Stream a few words please"}]}).encode()
    conn = http.client.HTTPConnection(c.host, c.port, timeout=60)
    conn.request("POST", "/v1/chat/completions", body=req,
                 headers={"Content-Type": "application/json", "Authorization": "Bearer sk-any",
                          "Accept-Encoding": "gzip"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    events = [e for e in body.split(b"\n\n") if e]
    r.check(resp.status == 200, "/v1/chat/completions stream: 200", f"{resp.status} {body[:200]!r}")
    r.check(resp.headers.get("content-encoding") is None, "/v1 stream: not compressed")
    r.check(bool(events) and events[-1] == b"data: [DONE]", "/v1 stream: ends with data: [DONE]",
            repr(events[-1]) if events else "no events")
    chunks = [json.loads(e[6:]) for e in events[:-1] if e.startswith(b"data: {")]
    r.check(len(chunks) >= 3 and all(ch.get("object") == "chat.completion.chunk" for ch in chunks),
            f"/v1 stream: chat.completion.chunk events ({len(chunks)})")


def sse(r: Result, c: Client) -> None:
    words = " ".join(f"word{i}" for i in range(20))
    req = json.dumps({"prompt": f"Stream these words: {words}", "max_tokens": 256}).encode()
    conn = http.client.HTTPConnection(c.host, c.port, timeout=60)
    t0 = time.monotonic()
    conn.request("POST", "/api/v1/generate/stream", body=req,
                 headers={"Content-Type": "application/json", "Accept": "text/event-stream", "Accept-Encoding": "gzip"})
    resp = conn.getresponse()
    t_headers = time.monotonic() - t0
    buf = b""
    events: list[tuple[float, bytes]] = []
    reads = 0
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        reads += 1
        now = time.monotonic() - t0
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            events.append((now, ev))
    conn.close()
    h = resp.headers
    r.check(resp.status == 200, "stream: 200", str(resp.status))
    r.check(h.get("content-type", "").startswith("text/event-stream"), "stream: text/event-stream", h.get("content-type", ""))
    r.check(h.get("content-encoding") is None, "stream: not compressed (even with Accept-Encoding: gzip)", str(h.get("content-encoding")))
    r.check(h.get("x-accel-buffering") == "no", "stream: X-Accel-Buffering: no reaches the client", str(h.get("x-accel-buffering")))
    r.check("no-cache" in (h.get("cache-control") or ""), "stream: Cache-Control no-cache", str(h.get("cache-control")))
    tokens = [(t, e) for t, e in events if e.startswith(b'data: "')]
    r.check(bool(events) and events[-1][1] == b"data: [DONE]", "stream: ends with data: [DONE]", repr(events[-1][1]) if events else "no events")
    r.check(all(e.startswith(b"data: ") for _, e in events), "stream: every event is one data: line")
    valid = True
    for _, e in tokens:
        try:
            valid = valid and isinstance(json.loads(e[6:]), str)
        except ValueError:
            valid = False
    r.check(valid, "stream: every token payload is a JSON string")
    r.check(len(tokens) >= 10, f"stream: at least 10 token events ({len(tokens)})")
    if len(tokens) < 2:
        return
    first, last = tokens[0][0], tokens[-1][0]
    total = events[-1][0]
    ratio = first / total if total else 1.0
    print(f"       headers {t_headers * 1000:.0f} ms, first token {first * 1000:.0f} ms, last token {last * 1000:.0f} ms, "
          f"done {total * 1000:.0f} ms, {len(tokens)} tokens in {reads} reads")
    r.check(ratio < 0.4, f"stream: first token at {ratio:.0%} of the stream time (< 40%)")
    r.check(total >= 0.045 * len(tokens), "stream: total time reflects the mock's 50 ms/token (not replayed from a buffer)",
            f"{total:.2f}s for {len(tokens)} tokens")
    # Incremental delivery: tokens land in many separate reads spread over the stream, not
    # in one burst at the end.
    arrival = sorted({round(t, 3) for t, _ in tokens})
    r.check(len(arrival) >= len(tokens) * 0.6, "stream: tokens arrive in separate reads over time",
            f"{len(arrival)} distinct arrival times for {len(tokens)} tokens")
    mid = tokens[len(tokens) // 2][0]
    r.check(mid < total * 0.8, "stream: the middle token arrives well before the end", f"{mid:.2f}s of {total:.2f}s")


def gateway_down_phase(r: Result, c: Client) -> None:
    print("== gateway stopped")
    st, h, body = c.request("GET", "/api/v1/chat/sessions")
    try:
        env = json.loads(body)
    except ValueError:
        env = {}
    r.check(st == 503 and env.get("error", {}).get("code") == "SERVICE_UNAVAILABLE",
            "gateway down: 503 with the JSON envelope", f"{st} {body[:120]!r}")
    st, h, body = c.request("GET", "/")
    r.check(st == 200, "gateway down: the SPA is still served", str(st))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("dist")
    ap.add_argument("--gateway-port", type=int, default=19000)
    ap.add_argument("--phase", choices=["main", "gateway-down"], default="main")
    a = ap.parse_args()
    r = Result()
    c = Client(a.base)
    if a.phase == "main":
        main_phase(r, c, a.dist, a.gateway_port)
    else:
        gateway_down_phase(r, c)
    print(f"nginx assertions ({a.phase}): {r.passed} passed, {len(r.failed)} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
