#!/usr/bin/env python3
"""Docs that cannot rot: fails when a workshop page names something that does not exist.

Reads every markdown page under workshop/ and checks, in inline code spans, markdown links
and shell code blocks:
  - repository paths (`crates/gateway/src/relay.rs`, `migrations/`), also relative to the page;
  - functions and types as `path::name` (`crates/gateway/src/relay.rs::upstream_events`): the
    file must define `name` (fn/struct/enum/trait/const/type/mod/static, or a TS/JS
    function/const/class/interface/type);
  - make targets (`make lab-check TASK=0.4`): a target of the Makefile;
  - environment variables (`AUTH_MODE`, `RATE_LIMIT_STORE=redis`): in .env.example, in a
    service's `--help` (`[env: NAME=]`), or read by a script; all-caps words that are instead
    error codes or constants must appear as a string literal in crates/;
  - routes (`GET /api/v1/jobs/{id}`, `/health/ready`, curl URLs): a path of the gateway's
    OpenAPI document (`gateway --print-openapi`) or a `.route("…")` of a service.
Usage: workshop_docs_check.py [--bin-dir target/debug]   (exit 1 and a list when anything is missing)
"""
import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKSHOP = ROOT / "workshop"
TOP_LEVEL = {p.name for p in ROOT.iterdir()}
EXT = re.compile(r"\.(rs|ts|tsx|mjs|js|py|sh|sql|md|toml|yml|yaml|json|conf|lua|example|css|html)$")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ROUTE_PREFIXES = ("/api/", "/v1/", "/health", "/metrics", "/inference", "/jobs", "/openapi.json", "/docs")


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def make_targets():
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-zA-Z][a-zA-Z0-9_-]*):", text, re.M))


def env_names(bin_dir):
    names = set()
    example = ROOT / ".env.example"
    if example.exists():
        names |= set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example.read_text(), re.M))
    for b in ("gateway", "model-service", "worker-service"):
        exe = bin_dir / b
        if not exe.exists():
            sys.exit(f"docs check: {exe} is missing (cargo build --bins)")
        names |= set(re.findall(r"\[env: ([A-Z][A-Z0-9_]+)=", sh([str(exe), "--help"])))
    # Variables the scripts and the Makefile read (script settings such as SABLE_URL, TASK).
    scripts = list((ROOT / "scripts").rglob("*.sh")) + list((ROOT / "scripts").rglob("*.py"))
    scripts += list(WORKSHOP.rglob("*.sh")) + list(WORKSHOP.rglob("*.py")) + [ROOT / "Makefile"]
    for f in scripts:
        text = f.read_text(errors="replace")
        names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text))
        names |= set(re.findall(r"environ(?:\.get)?\(?\[?[\"']([A-Z][A-Z0-9_]+)", text))
    return names


def string_literals():
    """All-caps words the code itself uses: error codes, constants, socket options."""
    found = set()
    for f in (ROOT / "crates").rglob("*.rs"):
        found |= set(re.findall(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b", f.read_text(errors="replace")))
    return found


def routes(bin_dir):
    doc = json.loads(sh([str(bin_dir / "gateway"), "--print-openapi"]) or "{}")
    paths = set(doc.get("paths", {}))
    if not paths:
        sys.exit("docs check: the gateway printed no OpenAPI document")
    for f in (ROOT / "crates").rglob("*.rs"):
        if "/tests/" in str(f):
            continue
        paths |= set(re.findall(r"\.route\(\s*\"(/[^\"]*)\"", f.read_text(errors="replace")))
    paths |= {"/openapi.json", "/docs"}
    return [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", r"[^/]+", re.escape(p)) + "$") for p in paths]


def defines(path, name):
    text = path.read_text(errors="replace")
    rust = rf"\b(fn|struct|enum|trait|const|type|mod|static|macro_rules!)\s+{re.escape(name)}\b"
    js = rf"\b(function|const|let|class|interface|type|def)\s+{re.escape(name)}\b"
    return re.search(rust, text) or re.search(js, text)


class Checker:
    def __init__(self, bin_dir):
        self.targets = make_targets()
        self.envs = env_names(bin_dir)
        self.literals = string_literals()
        self.routes = routes(bin_dir)
        self.problems = []
        self.counts = {"path": 0, "symbol": 0, "make": 0, "env": 0, "route": 0, "link": 0}

    def fail(self, page, what):
        self.problems.append(f"{page.relative_to(ROOT)}: {what}")

    def resolve(self, page, rel):
        rel = rel.rstrip("/")
        for base in (ROOT, page.parent, page.parent.parent):
            if (base / rel).exists():
                return base / rel
        return None

    def path(self, page, p):
        self.counts["path"] += 1
        if not self.resolve(page, p):
            self.fail(page, f"no such file or directory: {p}")

    def symbol(self, page, p, names):
        self.counts["symbol"] += 1
        f = self.resolve(page, p)
        if not f or not f.is_file():
            self.fail(page, f"no such file: {p}")
        elif not defines(f, names[-1]):
            self.fail(page, f"{p} defines no {names[-1]}")

    def make(self, page, target):
        self.counts["make"] += 1
        if target not in self.targets:
            self.fail(page, f"no make target: {target}")

    def env(self, page, name):
        self.counts["env"] += 1
        if name not in self.envs and name not in self.literals:
            self.fail(page, f"no such environment variable (or code): {name}")

    def route(self, page, r):
        self.counts["route"] += 1
        r = r.split("?")[0].split("#")[0].rstrip(".,;:)")
        r = r.replace("$id", "{id}").replace("$job", "{id}")
        r = re.sub(r"\$\{?[A-Za-z_]+\}?", "x", r)
        r = r.rstrip("….")
        # A route, or a prefix of routes (a cookie's path, `/api/v1/chat/…`).
        prefix = "^" + re.escape(r.rstrip("/")) + "/"
        if not any(p.match(r) or p.pattern.startswith(prefix) for p in self.routes):
            self.fail(page, f"no such route: {r}")

    def span(self, page, s):
        s = s.strip()
        m = re.match(r"^make ([a-z][a-z0-9_-]*)", s)
        if m:
            return self.make(page, m.group(1))
        m = re.match(rf"^(?:{'|'.join(METHODS)}) (/\S*)", s)
        if m:
            return self.route(page, m.group(1))
        if s.startswith(ROUTE_PREFIXES) and " " not in s:
            return self.route(page, s)
        m = re.match(r"^([\w./-]+\.(?:rs|ts|tsx|mjs|py))::([\w:]+)$", s)
        if m:
            return self.symbol(page, m.group(1), m.group(2).split("::"))
        m = re.match(r"^([A-Z][A-Z0-9]*_[A-Z0-9_]+)(=\S*)?$", s)
        if m:
            return self.env(page, m.group(1))
        if re.match(r"^[\w.-]+(/[\w.-]+)*/?$", s) and not s.startswith(".") or s == ".env.example":
            first = s.split("/")[0]
            if ("/" in s and (EXT.search(s) or s.endswith("/")) and first in TOP_LEVEL) or s in TOP_LEVEL and "." in s:
                return self.path(page, s)
            if s.startswith(("lab/", "starter", "solution")) and EXT.search(s):
                return self.path(page, s)

    def shell_block(self, page, block):
        for m in re.finditer(r"(?:^|[\s;&|(])make ([a-z][a-z0-9_-]*)", block):
            self.make(page, m.group(1))
        for m in re.finditer(r"(?:\$SABLE_URL|\$URL|localhost:\d+|127\.0\.0\.1:\d+|\$\{SABLE_URL[^}]*\})(/[^\s\"'`]*)", block):
            self.route(page, m.group(1))

    def page(self, page):
        text = page.read_text()
        blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)
        for lang, body in blocks:
            if lang in ("bash", "sh", "shell", "console"):
                self.shell_block(page, body)
        prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
        for s in re.findall(r"`([^`\n]+)`", prose):
            self.span(page, s)
        for link in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"^(https?:|mailto:|#)", link):
                continue
            self.counts["link"] += 1
            target = link.split("#")[0]
            if not (page.parent / target).exists():
                self.fail(page, f"broken link: {link}")


SELF_TEST_GOOD = """# Good
`crates/gateway/src/relay.rs::upstream_events` `crates/gateway/src/state.rs` `make lab-check TASK=0.4`
`AUTH_MODE=off` `INVALID_PATH` `GET /api/v1/jobs/{id}` `/health/ready` [arch](../../../ARCHITECTURE.md)
```bash
curl -s localhost:8000/api/v1/chat/sessions && make health
```
"""
SELF_TEST_BAD = [
    "`crates/gateway/src/nowhere.rs`",
    "`crates/gateway/src/relay.rs::no_such_function`",
    "`make no-such-target`",
    "`NO_SUCH_SETTING=1`",
    "`GET /api/v1/no/such/route`",
    "`/api/v1/nothing-here`",
    "[gone](../../../NOPE.md)",
    "```bash\ncurl localhost:8000/api/v1/missing/route\n```",
    "```bash\nmake not-a-target\n```",
]


def self_test(checker):
    """The checker catches each kind of rot and passes what exists (it would otherwise test nothing)."""
    import tempfile
    with tempfile.TemporaryDirectory(dir=WORKSHOP) as tmp:
        page = Path(tmp) / "a" / "page.md"
        page.parent.mkdir(parents=True)
        page.write_text(SELF_TEST_GOOD)
        checker.page(page)
        if checker.problems:
            sys.exit(f"docs check self-test: flagged names that exist: {checker.problems}")
        for bad in SELF_TEST_BAD:
            page.write_text(f"# Bad\n\n{bad}\n")
            checker.page(page)
            if len(checker.problems) != 1:
                sys.exit(f"docs check self-test: {bad!r} gave {checker.problems}")
            checker.problems.clear()
    checker.counts = {k: 0 for k in checker.counts}
    print(f"workshop docs check self-test: {len(SELF_TEST_BAD)} kinds of rot caught, existing names pass")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=os.environ.get("BIN_DIR", str(ROOT / "target" / "debug")))
    ap.add_argument("--self-test", action="store_true", help="check the checker first")
    args = ap.parse_args()
    checker = Checker(Path(args.bin_dir))
    if args.self_test:
        self_test(checker)
    pages = sorted(WORKSHOP.rglob("*.md"))
    if not pages:
        sys.exit("docs check: no workshop pages")
    for page in pages:
        checker.page(page)
    summary = ", ".join(f"{v} {k}s" for k, v in checker.counts.items())
    if checker.problems:
        print(f"workshop docs check: {len(checker.problems)} problem(s) in {len(pages)} pages ({summary})")
        for p in checker.problems:
            print("  " + p)
        sys.exit(1)
    print(f"workshop docs check: {len(pages)} pages, every name resolves ({summary})")


if __name__ == "__main__":
    main()
