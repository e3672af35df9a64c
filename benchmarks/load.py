"""Benchmark the app under load, as deployed: `python -m bot serve` in its own process, Zuora slowed down.

Run: `.venv/bin/python benchmarks/load.py` (prints a table; traffic only to 127.0.0.1; about 5 minutes).
Three parts, each against the sandbox served over HTTP in another process with injected latency:

1. `/billing why is INV-… higher` at 10 commands/s for 15 s, Zuora at 2 s per request (`python -m bot
   sandbox --latency 2`): ack latency p50/p99/max, acks that were 200, answers delivered (waited for,
   up to 2 minutes), and `/healthz` latency meanwhile (polled every 100 ms).
2. 300 declined-payment callouts from 16 senders, Zuora at 250 ms: callout response p99, the most
   posts in one second in one channel, and how many of the 300 declines are on a card or digest row
   (waited for until Slack is quiet for 20 s, at most 4 minutes).
3. Bill-run summaries of 1k and 10k invoices (plus the previous run's, and 100 new accounts), Zuora
   at 250 ms: time, requests, and tracemalloc peak (this process only; the sandbox is elsewhere).

Targets (issue 13): ack p99 < 50 ms, 100 % of acks 200, every answer delivered; callout p99 < 200 ms,
<= 1 post per second per channel, 300/300 declines represented; bill run 10k+10k in <= ceil(N/99)+10
requests and under 30 s, memory flat in N.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.processes import Instance, SandboxProcess  # noqa: E402

RATE, SECONDS = 10, 15
CALLOUTS, SENDERS = 300, 16
SIZES = (1_000, 10_000)
NEW_ACCOUNTS = 100


class TimedSlack(FakeSlack):
    """The fake Slack Web API, also noting when each call arrived (for posts per second per channel)."""

    def __init__(self) -> None:
        super().__init__()
        self.timeline: list[tuple[float, str, str]] = []
        self._timeline_lock = threading.Lock()

    def _answer(self, path: str, body: dict[str, Any], auth: str | None) -> Any:
        with self._timeline_lock:
            self.timeline.append((time.monotonic(), path.removeprefix("/api/"), str(body.get("channel", ""))))
        return super()._answer(path, body, auth)


# -- processes -----------------------------------------------------------------------------------------------


def _start(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start a child that prints its base URL on its first line; returns the child and the URL."""
    child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    url = line.rsplit(" ", 1)[-1]
    assert url.startswith("http://127.0.0.1:"), f"unexpected first line: {line!r}"
    return child, url


def _keep_log(serve: Instance, name: str) -> None:
    """Keep serve's log for a look afterwards (it lives in a temporary directory)."""
    (Path(tempfile.gettempdir()) / f"billing-copilot-load-{name}.log").write_text(serve.output())


def _stop(child: subprocess.Popen[str]) -> None:
    if child.stdin:
        child.stdin.close()
    child.terminate()
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(10)


def _serve(sandbox: SandboxProcess, slack: FakeSlack, tmp: str) -> Instance:
    """`python -m bot serve` against the sandbox and the fake Slack (a SQLite file); returns it once /healthz
    answers."""
    return Instance("load", sandbox, slack, Path(tmp), DATABASE_PATH=str(Path(tmp) / "bot.db")).wait_up(60)


def _p(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# -- part 1: /billing at 10/s with Zuora at 2 s ------------------------------------------------------------------


def _command(serve: Instance, n: int) -> tuple[int, float, str]:
    started = time.perf_counter()
    response = serve.command(f"why is INV-{40 + n % 10} higher", hook=f"b{n}", user=f"U0LOAD{n:04d}",
                             channel="C0SUPPORT")
    return response.status_code, (time.perf_counter() - started) * 1000, response.text


def part_billing() -> list[str]:
    slack = TimedSlack().start()
    sandbox = SandboxProcess(latency=2)
    with tempfile.TemporaryDirectory() as tmp:
        serve = _serve(sandbox, slack, tmp)
        http = serve.http
        health: list[float] = []
        stop = threading.Event()

        def poll_health() -> None:
            while not stop.wait(0.1):
                started = time.perf_counter()
                ok = http.get("/healthz").status_code == 200
                health.append((time.perf_counter() - started) * 1000 if ok else float("inf"))

        poller = threading.Thread(target=poll_health, daemon=True)
        poller.start()
        total = RATE * SECONDS
        with ThreadPoolExecutor(64) as senders:
            t0 = time.monotonic()
            futures = []
            for n in range(total):
                time.sleep(max(0.0, t0 + n / RATE - time.monotonic()))
                futures.append(senders.submit(_command, serve, n))
            acks = [f.result() for f in futures]
        sent_in = time.monotonic() - t0

        def answered() -> int:
            return len({r.method for r in slack.requests if r.method.startswith("/hooks/b")
                        and "busy" not in json.dumps(r.body)})

        deadline = time.monotonic() + 120
        while answered() < total and time.monotonic() < deadline:
            time.sleep(0.1)
        drained = time.monotonic() - t0
        stop.set()
        poller.join(5)
        bodies = [json.dumps(r.body) for r in slack.requests if r.method.startswith("/hooks/b")]
        warnings = sum(1 for body in bodies if ":warning:" in body)
        busy = sum(1 for body in bodies if "busy" in body)
        busy += sum(1 for _, _, text in acks if "busy" in text)
        serve.stop(30)
        _keep_log(serve, "billing")
    sandbox.close()
    slack.close()
    latencies = [ms for _, ms, _ in acks]
    ok = sum(1 for status, _, _ in acks if status == 200)
    return [f"/billing at {RATE}/s for {SECONDS} s (sent in {sent_in:.1f} s), Zuora 2 s/request",
            f"  ack ms p50 / p99 / max        {_p(latencies, 50):8.1f} / {_p(latencies, 99):8.1f} / "
            f"{max(latencies):8.1f}",
            f"  acks 200                      {ok}/{total} ({100 * ok / total:.0f} %)",
            f"  answers delivered             {answered()}/{total} (all by {drained:.1f} s; {warnings} of them "
            f"errors; {busy} told busy)",
            f"  /healthz ms p50 / p99 / max   {_p(health, 50):8.1f} / {_p(health, 99):8.1f} / {max(health):8.1f}"
            f"  ({len(health)} polls)"]


# -- part 2: 300 declined-payment callouts -------------------------------------------------------------------


def part_callouts() -> list[str]:
    slack = TimedSlack().start()
    sandbox = SandboxProcess(declines=CALLOUTS, latency=0.25)
    bodies = sandbox.bodies
    with tempfile.TemporaryDirectory() as tmp:
        serve = _serve(sandbox, slack, tmp)

        def send(n: int) -> tuple[int, float]:
            started = time.perf_counter()
            response = serve.callout(bodies[n], f"bench-{n}")
            return response.status_code, (time.perf_counter() - started) * 1000

        t0 = time.monotonic()
        with ThreadPoolExecutor(SENDERS) as senders:
            replies = list(senders.map(send, range(CALLOUTS)))
        sent_in = time.monotonic() - t0
        accounts = {b["AccountNumber"] for b in bodies}

        def represented() -> int:
            """Declines (one account each) on a card or a digest row, posted or added by an update."""
            text = json.dumps([r.body.get("blocks") for r in slack.requests
                               if r.method in ("chat.postMessage", "chat.update")])
            return sum(1 for number in accounts if f"({number})" in text)

        deadline, quiet_since, seen = time.monotonic() + 240, time.monotonic(), len(slack.requests)
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 20 and represented() < CALLOUTS:
            time.sleep(0.5)
            if len(slack.requests) != seen:
                seen, quiet_since = len(slack.requests), time.monotonic()
        settled = time.monotonic() - t0
        serve.stop(30)
        _keep_log(serve, "callouts")
    sandbox.close()
    slack.close()
    per_second = Counter((int(at - t0), channel) for at, method, channel in slack.timeline
                         if method in ("chat.postMessage", "chat.update") and channel)
    busiest = max(per_second.values(), default=0)
    posts = sum(1 for _, method, channel in slack.timeline if method == "chat.postMessage" and channel)
    updates = sum(1 for _, method, channel in slack.timeline if method == "chat.update" and channel)
    latencies = [ms for _, ms in replies]
    ok = sum(1 for status, _ in replies if status == 200)
    return [f"{CALLOUTS} declined-payment callouts from {SENDERS} senders (sent in {sent_in:.1f} s), "
            f"Zuora 250 ms/request",
            f"  response ms p50 / p99 / max  {_p(latencies, 50):8.1f} / {_p(latencies, 99):8.1f} / "
            f"{max(latencies):8.1f}   ({ok}/{CALLOUTS} answered 200)",
            f"  messages: {posts} posts + {updates} updates; most in one second in one channel: {busiest}",
            f"  declines represented          {represented()}/{CALLOUTS} (after {settled:.0f} s)"]


# -- part 3: bill-run summaries ----------------------------------------------------------------------------------


def _billrun_sandbox(n: int, latency: float) -> None:
    from bot.sandbox import ZuoraSandbox
    from bot.sandbox.server import SandboxServer
    from bot.sandbox.synthetic import add_bill_runs

    sandbox = ZuoraSandbox()
    add_bill_runs(sandbox, n, new_accounts=NEW_ACCOUNTS)
    sandbox.inject("/*", latency=latency)
    server = SandboxServer(sandbox, "127.0.0.1", 0).start()
    print(f"sandbox {server.url}", flush=True)
    sys.stdin.read()
    server.close()


class _Counting(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)


def part_billruns() -> list[str]:
    from bot.billruns import find_bill_run, summarize
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from bot.sandbox.synthetic import CURRENT_RUN
    from bot.zuora import ZuoraClient

    lines = [f"bill-run summary, Zuora 250 ms/request, {NEW_ACCOUNTS} new accounts",
             f"  {'invoices':>17} {'seconds':>8} {'requests':>9} {'budget':>7} {'peak MiB':>9}"]
    for n in SIZES:
        sandbox, url = _start([sys.executable, __file__, "--billrun-sandbox", str(n), "0.25"])
        transport = _Counting()
        try:
            with ZuoraClient(url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                             transport=transport) as client:
                run = find_bill_run(client, CURRENT_RUN)
                before = transport.requests
                tracemalloc.start()
                started = time.perf_counter()
                summary = summarize(client, run)
                seconds = time.perf_counter() - started
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                made = transport.requests - before
        finally:
            _stop(sandbox)
        assert summary.invoices == n + NEW_ACCOUNTS and summary.previous_invoices == n
        total = summary.invoices + n
        budget = -(-total // 99) + 10
        lines.append(f"  {f'{summary.invoices}+{n}':>17} {seconds:>8.1f} {made:>9} {budget:>7} "
                     f"{peak / 1024 / 1024:>9.2f}")
    return lines


def main() -> None:
    parts: list[Callable[[], list[str]]] = [part_billing, part_callouts, part_billruns]
    for part in parts:
        for line in part():
            print(line, flush=True)
        print(flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--billrun-sandbox":
        _billrun_sandbox(int(sys.argv[2]), float(sys.argv[3]))
    elif len(sys.argv) == 2 and sys.argv[1] in ("billing", "callouts", "billruns"):
        for line in {"billing": part_billing, "callouts": part_callouts, "billruns": part_billruns}[sys.argv[1]]():
            print(line, flush=True)
    else:
        main()
