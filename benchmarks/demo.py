"""Benchmark how fast `python -m bot demo` is ready: process start → URL printed → the page served.

Run: `.venv/bin/python benchmarks/demo.py [RUNS]` (prints a table; no network). Each run starts a new
process on a free port (a cold interpreter: imports, the sandbox's demo tenant, a new database with
its migrations, the Bolt app's `auth.test` against the fake Slack), waits for the URL line, fetches
`/` and `/demo/config`, then stops it with SIGTERM. The target is under 2 s to a served page.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def once() -> tuple[float, float, float]:
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "demo", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        printed = time.monotonic() - started
        url = re.search(r"http://\S+", line)
        if url is None:
            raise SystemExit(f"no URL in {line!r}")
        with httpx.Client(base_url=url.group(0), trust_env=False, timeout=10) as http:
            assert http.get("/").status_code == 200
            page = time.monotonic() - started
            assert http.get("/demo/config").json()["users"]
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        return printed, page, time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    results = [once() for _ in range(runs)]
    print(f"python -m bot demo, {runs} cold starts (seconds)")
    print(f"{'':24}{'median':>8}{'max':>8}")
    for i, label in enumerate(("URL printed", "page served", "stopped (SIGTERM)")):
        values = [r[i] for r in results]
        print(f"{label:24}{statistics.median(values):8.2f}{max(values):8.2f}")


if __name__ == "__main__":
    main()
