#!/usr/bin/env python3
"""Workshop lab checks: `make lab-check TASK=0.4` (or `python3 scripts/lab_check.py 0.4`).

Verifies a lab's result against the running stack and prints what is still missing. On a pass
it records the task as done in the learner's workshop progress (`PUT /api/v1/workshop/progress`,
`via: "check"`), with the learner's token.

Environment (defaults are `make run`'s):
  SABLE_URL          the gateway                      http://localhost:8000
  SABLE_URL_B        a second gateway replica (lab 8) http://localhost:8010
  SABLE_MODEL_URL    the model service (lab 11)       http://localhost:8001
  SABLE_WORKER_URL   the worker service (lab 11)      http://localhost:8002
  SABLE_TOKEN        an access token or sk-sable- API key; else the file lab 0.1 writes,
                     $SABLE_LAB_DIR/token
  SABLE_LAB_DIR      where labs keep their files      .data/workshop
Standard library only: it runs wherever python3 does.
"""
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("SABLE_URL", "http://localhost:8000").rstrip("/")
URL_B = os.environ.get("SABLE_URL_B", "http://localhost:8010").rstrip("/")
MODEL_URL = os.environ.get("SABLE_MODEL_URL", "http://localhost:8001").rstrip("/")
WORKER_URL = os.environ.get("SABLE_WORKER_URL", "http://localhost:8002").rstrip("/")
LAB_DIR = Path(os.environ.get("SABLE_LAB_DIR", ROOT / ".data" / "workshop"))
TIMEOUT = 15


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def call(method, url, body=None, token=None, headers=None, raw=None):
    """One HTTP call; never raises for an HTTP status (connection failures give status 0)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())
    except (urllib.error.URLError, OSError) as e:
        return Response(0, {}, str(e).encode())


def token():
    t = os.environ.get("SABLE_TOKEN", "").strip()
    if not t and (LAB_DIR / "token").exists():
        t = (LAB_DIR / "token").read_text().strip()
    return t or None


class Check:
    def __init__(self, task):
        self.task, self.passed, self.missing = task, [], []
        self.tok = token()

    def ok(self, cond, what, missing=None):
        (self.passed if cond else self.missing).append(what if cond else (missing or what))
        return cond

    def api(self, method, path, body=None, **kw):
        return call(method, URL + path, body, token=self.tok, **kw)

    def lab_file(self, name):
        p = LAB_DIR / name
        return p.read_text().strip() if p.exists() else None

    def session(self, title):
        """The caller's newest session with this exact title, with its messages."""
        r = self.api("GET", "/api/v1/chat/sessions?limit=200")
        sessions = r.json() if r.status == 200 else None
        found = [s for s in sessions or [] if s.get("title") == title]
        if not self.ok(bool(found), f'a chat session titled "{title}"'):
            return None
        detail = self.api("GET", f"/api/v1/chat/sessions/{found[0]['id']}").json() or {}
        return detail

    def job(self, name):
        r = self.api("GET", "/api/v1/jobs?limit=100")
        jobs = (r.json() or {}).get("jobs", []) if r.status == 200 else []
        found = [j for j in jobs if j.get("name") == name]
        if not self.ok(bool(found), f'a batch job named "{name}"'):
            return None
        return self.api("GET", f"/api/v1/jobs/{found[0]['job_id']}").json()

    def jobs_named(self, prefix):
        r = self.api("GET", "/api/v1/jobs?limit=100")
        jobs = (r.json() or {}).get("jobs", []) if r.status == 200 else []
        return [self.api("GET", f"/api/v1/jobs/{j['job_id']}").json() for j in jobs
                if (j.get("name") or "").startswith(prefix)]


def answers(session):
    return [m for m in (session or {}).get("messages", []) if m.get("role") == "assistant"]


# --- the checks, one per task ------------------------------------------------------------

def check_0_1(c):
    h = call("GET", URL + "/health").json() or {}
    c.ok(h.get("status") == "healthy", "the gateway answers /health with status healthy",
         f"the gateway at {URL} is not healthy (is `make run` up?)")
    c.ok(call("GET", URL + "/health/ready").status == 200,
         "/health/ready is 200: database, model service and worker all reachable")
    if not c.ok(c.tok is not None, "a token (SABLE_TOKEN or the lab's token file)",
                f"no token: set SABLE_TOKEN or write your API key to {LAB_DIR}/token"):
        return
    me = c.api("GET", "/api/v1/auth/me")
    c.ok(me.status == 200, "your token identifies you (GET /api/v1/auth/me is 200)")
    keys = c.api("GET", "/api/v1/auth/keys").json()
    names = [k.get("name") for k in keys or []] if isinstance(keys, list) else \
        [k.get("name") for k in (keys or {}).get("keys", [])]
    c.ok("workshop" in names, 'an API key named "workshop"')
    models = c.api("GET", "/api/v1/models").json() or {}
    c.ok(bool(models.get("models")), "the model service lists its models through the gateway")


def check_0_2(c):
    s = c.session("lab 0.2")
    if s:
        roles = [m["role"] for m in s.get("messages", [])]
        c.ok(roles[:2] == ["user", "assistant"], "the gateway stored both turns (user, then assistant)")
        meta = (answers(s) or [{}])[0].get("meta") or {}
        c.ok(bool(meta.get("model")) and "latency_ms" in meta,
             "the answer's meta names the model and its latency (written by the gateway)")


def check_0_3(c):
    s = c.session("lab 0.3")
    if s:
        a = answers(s)
        meta = (a[0].get("meta") or {}) if a else {}
        c.ok(bool(a), "an answer was stored although your client went away")
        c.ok(meta.get("stopped") is False, "it ran to its end (meta.stopped is false)")
        tokens = (meta.get("usage") or {}).get("completion_tokens", 0)
        c.ok(tokens >= 40, f"the whole answer was generated ({tokens} tokens, 40 asked for)")
        r = c.api("GET", f"/api/v1/chat/sessions/{s['id']}/stream")
        c.ok(r.status == 204, "nothing is running in the session any more (GET …/stream is 204)")


def check_0_4(c):
    s = c.session("lab 0.4")
    if s:
        c.ok(bool(answers(s)), "the streamed answer is stored in the session")
    j = c.job("lab-0.4")
    if j:
        c.ok(j.get("status") == "completed", f"the job completed (status {j.get('status')})")
        c.ok(len(j.get("results", [])) == 3 and j.get("result_indexes") == [0, 1, 2],
             "three results, in prompt order")


def check_0_5(c):
    s = c.session("lab 0.5")
    if s:
        r = c.api("GET", "/api/v1/chat/search?q=observability")
        hits = (r.json() or {}).get("results", []) if r.status == 200 else []
        c.ok(any(h.get("session_id") == s["id"] for h in hits),
             'full-text search for "observability" finds your session')
        md = c.api("GET", f"/api/v1/chat/sessions/{s['id']}/export?format=markdown")
        c.ok(md.status == 200 and b"lab 0.5" in md.body, "the markdown export holds the conversation")
        meta = ((answers(s) or [{}])[0].get("meta")) or {}
        c.ok("ttft_ms" in meta and "latency_ms" in meta,
             "the stored answer carries its own timings (meta.ttft_ms, meta.latency_ms)")


def check_0_6(c):
    s = c.session("lab 0.6")
    if s:
        meta = ((answers(s) or [{}])[0].get("meta")) or {}
        c.ok(meta.get("stopped") is True, "the answer was stopped mid-stream (meta.stopped is true)")
        c.ok(meta.get("finish_reason") == "stopped", 'and stored with finish_reason "stopped"')


def check_1(c):
    s = c.session("lab 1")
    if s:
        users = [m for m in s.get("messages", []) if m["role"] == "user"]
        c.ok(any("gRPC" in m["content"] for m in users), "your question about gRPC is stored")
        c.ok(bool(answers(s)), "the answer streamed through /v1/chat/completions is stored")


def check_2(c):
    j = c.job("lab-2")
    if j:
        c.ok(j.get("status") == "cancelled", f"the job was cancelled (status {j.get('status')})")
        c.ok(j.get("started_at") is not None, "it was cancelled while running (started_at is set)")
        c.ok(j.get("completed_prompts", 0) < j.get("total_prompts", 0),
             "the prompts not yet answered were never answered")


def check_3(c):
    s = c.session("lab 3")
    if s:
        c.ok(len(answers(s)) >= 2, "two answers in the session: one whole, one streamed")
    j = c.job("lab-3")
    if j:
        c.ok(j.get("status") == "completed" and len(j.get("results", [])) == 3,
             "the batch of three completed")


def check_4(c):
    models = c.api("GET", "/api/v1/models").json() or {}
    c.ok(bool(models.get("provider")), f"the gateway reports the injected provider ({models.get('provider')})")
    s = c.session("lab 4")
    if not s:
        return
    msgs = s.get("messages", [])
    pairs = [(msgs[i]["content"], (msgs[i + 1].get("meta") or {}).get("latency_ms"))
             for i in range(len(msgs) - 1) if msgs[i]["role"] == "user" and msgs[i + 1]["role"] == "assistant"]
    control = [ms for p, ms in pairs if "[mock:flaky" not in p and ms is not None]
    retried = [ms for p, ms in pairs if "[mock:flaky=2]" in p and ms is not None]
    if c.ok(bool(control) and bool(retried), "a control answer and a [mock:flaky=2] answer in the session"):
        extra = retried[-1] - control[-1]
        c.ok(extra >= 250, f"the retried answer took {extra:.0f} ms longer: two backoffs of the retry policy (250+ ms)")


def check_5(c):
    s = c.session("lab 5")
    if s:
        text = " ".join(m["content"] for m in s.get("messages", []))
        m = re.search(r"p50_ms=([\d.]+)\s+p99_ms=([\d.]+)", text)
        if c.ok(bool(m), "your measured p50_ms=… p99_ms=… in the session"):
            c.ok(0 < float(m.group(1)) <= float(m.group(2)), "0 < p50 <= p99")
    metrics = call("GET", URL + "/metrics").body.decode(errors="replace")
    counts = [float(v) for v in re.findall(
        r'^\w*requests_total\{[^}]*"/api/v1/models"[^}]*\}\s+([\d.e+]+)', metrics, re.M)]
    c.ok(sum(counts) >= 50, f"the gateway's /metrics counts 50+ requests to /api/v1/models ({sum(counts):.0f})")


def check_6(c):
    jobs = c.jobs_named("lab-6-")
    if c.ok(len(jobs) >= 4, f'four jobs named "lab-6-…" ({len(jobs)} found)'):
        c.ok(all(j.get("status") == "completed" for j in jobs), "every one completed")
        c.ok(all(j.get("attempts") == 1 for j in jobs), "each was claimed exactly once (attempts == 1)")
        c.ok(all(j.get("result_indexes") == list(range(j.get("total_prompts", 0))) for j in jobs),
             "every prompt answered once, in its own slot")
    stats = [call("GET", WORKER_URL + "/health"), call("GET", os.environ.get("SABLE_WORKER_URL_B", "http://localhost:8012") + "/health")]
    c.ok(all(r.status == 200 for r in stats), "two worker processes are up (SABLE_WORKER_URL, SABLE_WORKER_URL_B)")


def check_7(c):
    s = c.session("lab 7")
    if s:
        c.ok(s.get("message_count", 0) >= 1000, f"1,000+ messages imported ({s.get('message_count', 0)})")
        page = c.api("GET", f"/api/v1/chat/sessions/{s['id']}?limit=100").json() or {}
        msgs = page.get("messages", [])
        c.ok(len(msgs) == 100, "a page of ?limit=100 returns 100 messages")
        if msgs:
            before = c.api("GET", f"/api/v1/chat/sessions/{s['id']}?limit=100&before={msgs[0]['id']}").json() or {}
            older = before.get("messages", [])
            c.ok(len(older) == 100 and older[-1]["id"] != msgs[0]["id"], "…and the page before it, by cursor")


def check_8(c):
    a = call("GET", URL + "/health/ready")
    b = call("GET", URL_B + "/health/ready")
    if not c.ok(a.status == 200 and b.status == 200, f"two ready gateway replicas ({URL}, {URL_B})"):
        return
    body = {"prompt": "lab 8", "max_tokens": 1}

    def one(_):
        return call("POST", URL + "/api/v1/generate", body, token=c.tok)

    limited = None
    with ThreadPoolExecutor(8) as pool:
        for _ in range(40):  # at most 320 calls: far above any burst a lab stack uses
            rs = list(pool.map(one, range(8)))
            limited = next((r for r in rs if r.status == 429), None)
            if limited:
                break
    if not c.ok(limited is not None, "replica A refused a generation with 429 once the burst was spent"):
        return
    retry = int(limited.headers.get("retry-after", "0") or 0)
    c.ok(retry >= 1, f"with Retry-After ({retry} s)")
    # At once, a burst of ten to replica B: with its own buckets it would serve all ten (any
    # burst is larger); sharing A's nearly empty bucket, it refuses most of them.
    with ThreadPoolExecutor(10) as pool:
        on_b = list(pool.map(lambda _: call("POST", URL_B + "/api/v1/generate", body, token=c.tok), range(10)))
    refused = [r for r in on_b if r.status == 429]
    c.ok(bool(refused), "replica B refuses too: the bucket is shared (RATE_LIMIT_STORE=redis)",
         f"replica B served {sum(r.status == 200 for r in on_b)} of 10 at once: its buckets are not shared "
         "with A (RATE_LIMIT_STORE=redis and the same REDIS_URL on both)")
    if refused:
        wait = int(refused[-1].headers.get("retry-after", "1") or 1)
        time.sleep(wait)
        after = call("POST", URL_B + "/api/v1/generate", body, token=c.tok)
        c.ok(after.status == 200, f"after waiting its Retry-After ({wait} s), replica B answers again ({after.status})")


def check_9(c):
    s = c.session("lab 9")
    other = c.lab_file("lab09_other_token")
    revoked = c.lab_file("lab09_revoked_key")
    if not c.ok(bool(other), f"the second account's token in {LAB_DIR}/lab09_other_token"):
        return
    me = c.api("GET", "/api/v1/auth/me").json() or {}
    them = call("GET", URL + "/api/v1/auth/me", token=other).json() or {}
    c.ok(them.get("id") and them.get("id") != me.get("id"), "it is a different user")
    if s:
        r = call("GET", URL + f"/api/v1/chat/sessions/{s['id']}", token=other)
        c.ok(r.status == 404, f"your session is 404 to them, as if it did not exist ({r.status})")
    if c.ok(bool(revoked), f"a revoked API key in {LAB_DIR}/lab09_revoked_key"):
        r = call("GET", URL + "/api/v1/auth/me", token=revoked)
        c.ok(r.status == 401, f"the revoked key is refused with 401 ({r.status})")


def check_10(c):
    r = call("GET", URL + "/api/v1/models", token=c.tok, headers={"host": "evil.example"})
    c.ok(r.status == 400 and b"INVALID_HOST" in r.body,
         "a request for another Host is refused with 400 INVALID_HOST (ALLOWED_HOSTS)",
         f"Host: evil.example got {r.status}: set ALLOWED_HOSTS=localhost,127.0.0.1 on the gateway")
    ok = c.api("GET", "/api/v1/models")
    c.ok(ok.headers.get("x-content-type-options") == "nosniff" and ok.headers.get("x-frame-options") == "DENY",
         "security headers on every answer (nosniff, DENY)")
    c.ok(call("GET", URL + "/api/v1/chat/sessions").status == 401, "no token: 401")
    bad = c.api("POST", "/api/v1/generate", {"prompt": ""})
    loc = [d.get("loc") for d in (bad.json() or {}).get("detail", [])]
    c.ok(bad.status == 422 and ["body", "prompt"] in loc, "an empty prompt: 422 naming body.prompt")
    big = c.api("POST", "/api/v1/generate", raw=b'{"prompt":"' + b"a" * (1024 * 1024 + 10) + b'"}')
    c.ok(big.status == 413, f"a body over 1 MiB: 413 ({big.status})")


def check_11(c):
    r = call("POST", MODEL_URL + "/inference", {"prompt": "lab 11"})
    c.ok(r.status == 401 and b"INTERNAL_UNAUTHORIZED" in r.body,
         "the model service refuses a caller without the internal token (401 INTERNAL_UNAUTHORIZED)",
         f"the model service answered {r.status} without a token: set INTERNAL_TOKEN on all three services")
    w = call("GET", WORKER_URL + "/jobs")
    c.ok(w.status == 401, f"so does the worker service ({w.status})")
    c.ok(call("GET", MODEL_URL + "/health").status == 200, "/health stays open for probes")
    g = c.api("POST", "/api/v1/generate", {"prompt": "lab 11", "max_tokens": 4})
    c.ok(g.status == 200, f"the gateway still reaches the model service: it sends the token ({g.status})")
    leak = c.api("GET", "/api/v1/jobs/not-a-uuid")
    c.ok(b"Bearer" not in leak.body and b"127.0.0.1" not in leak.body, "error bodies leak no token or internal address")


CHECKS = {
    "0.1": check_0_1, "0.2": check_0_2, "0.3": check_0_3, "0.4": check_0_4, "0.5": check_0_5,
    "0.6": check_0_6, "1": check_1, "2": check_2, "3": check_3, "4": check_4, "5": check_5,
    "6": check_6, "7": check_7, "8": check_8, "9": check_9, "10": check_10, "11": check_11,
}


def report(c):
    r = c.api("PUT", "/api/v1/workshop/progress", {"task_id": c.task, "done": True, "via": "check"})
    if r.status == 200:
        print("recorded: this task is done in your workshop progress")
    else:
        print(f"(could not record progress: {r.status})")


def main():
    task = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TASK", "")).strip()
    task = task[:-2] if task.endswith(".0") else task
    if task not in CHECKS:
        sys.exit(f"usage: make lab-check TASK=<{'|'.join(CHECKS)}>")
    c = Check(task)
    if task != "0.1" and c.tok is None:
        sys.exit(f"lab {task}: no token: do lab 0.1 first, or set SABLE_TOKEN")
    CHECKS[task](c)
    for p in c.passed:
        print(f"  ok       {p}")
    for m in c.missing:
        print(f"  MISSING  {m}")
    if c.missing:
        print(f"lab {task}: {len(c.missing)} thing(s) still missing")
        sys.exit(1)
    print(f"lab {task}: passed ({len(c.passed)} checks)")
    report(c)


if __name__ == "__main__":
    main()
