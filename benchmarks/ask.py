"""Benchmark the copilot's `ask` path: wall time per question with Zuora latency, and what it costs.

Run: `.venv/bin/python benchmarks/ask.py` (prints a table; no network, embedded sandbox).
Zuora latency is simulated per API request by the sandbox (the OAuth token call is not delayed);
with two waves, "explain" takes two round trips (find, then items and previous invoice together).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bot.copilot import Copilot, Toolbox, ToolContext
from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox
from bot.zuora import ZuoraClient

QUESTIONS = ["why is INV-42 higher", "what does A00000007 owe", "who is overdue", "payments for globex"]
LATENCIES_MS = [0, 50, 100]
RUNS = 5


def _measure(question: str, latency_ms: int) -> tuple[float, int]:
    times, requests = [], 0
    for _ in range(RUNS):
        sandbox = ZuoraSandbox()
        if latency_ms:
            sandbox.inject("/*", latency=latency_ms / 1000)
        client = ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                             transport=httpx.MockTransport(sandbox.handle))
        copilot = Copilot(Toolbox(ToolContext(client, today=lambda s=sandbox: s.tenant.today)))
        started = time.perf_counter()
        answer = copilot.ask(question)
        times.append(time.perf_counter() - started)
        assert answer.intent not in ("error", "clarify"), answer.text
        requests = len(sandbox.requests)
        client.close()
    return statistics.median(times) * 1000, requests


def _cold_start() -> tuple[float, float]:
    code = ("import time, resource; t = time.perf_counter(); from bot.__main__ import main; "
            "main(['ask', 'why is INV-42 higher']); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    seconds, rss_kb = out.strip().splitlines()[-1].split()
    return float(seconds) * 1000, int(rss_kb) / 1024


def main() -> None:
    print(f"{'question':<28} {'latency/req':>11} {'requests':>8} {'median ms':>10}")
    for question in QUESTIONS:
        for latency in LATENCIES_MS:
            ms, requests = _measure(question, latency)
            print(f"{question:<28} {latency:>9}ms {requests:>8} {ms:>10.1f}")
    cold_ms, rss_mb = _cold_start()
    print(f"\ncold `python -m bot ask` (import + sandbox seed + answer): {cold_ms:.0f} ms, peak RSS {rss_mb:.0f} MB")
    print(f"this process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
