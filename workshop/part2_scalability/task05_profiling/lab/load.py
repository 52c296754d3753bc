#!/usr/bin/env python3
"""Lab 5: N timed requests to GET /api/v1/models through the gateway; prints p50_ms=… p99_ms=….
SABLE_URL, SABLE_TOKEN (or .data/workshop/token), N (60), THREADS (4). Standard library only."""
import os
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

url = os.environ.get("SABLE_URL", "http://localhost:8000").rstrip("/") + "/api/v1/models"
lab_dir = Path(os.environ.get("SABLE_LAB_DIR", Path(__file__).resolve().parents[4] / ".data" / "workshop"))
token = os.environ.get("SABLE_TOKEN") or (lab_dir / "token").read_text().strip()
n, threads = int(os.environ.get("N", "60")), int(os.environ.get("THREADS", "4"))


def one(_):
    req = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
    return (time.perf_counter() - start) * 1000


with ThreadPoolExecutor(threads) as pool:
    times = sorted(pool.map(one, range(n)))


def pct(p):
    return times[min(len(times) - 1, int(len(times) * p / 100))]


print(f"p50_ms={pct(50):.2f} p99_ms={pct(99):.2f}")
