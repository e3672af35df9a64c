"""Benchmark declined-payment callouts in a burst: response times, pacing of the collections channel, coverage.

Run: `.venv/bin/python benchmarks/callouts.py [N] [LATENCY_S]` (default 300 declines, Zuora at 0.25 s per
request; prints a table; no network). The whole app runs under waitress with the embedded sandbox (N
accounts cloned from a demo account, each with an open invoice and a declined payment) and a local fake
of Slack's Web API; 16 senders post the callouts as Zuora would.
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sandbox import ZuoraSandbox
from tests.fakes.slack_api import FakeSlack
from tests.slack_stack import Stack, callout
from tests.test_callouts import COLLECT, SETTINGS, represented
from tests.test_outbox import many_declines


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.25
    slack = FakeSlack().start()
    sent_at: list[float] = []
    answer = slack._answer

    def timed(path: str, body: dict[str, Any], auth: str | None) -> Any:
        if path.endswith(("chat.postMessage", "chat.update")) and body.get("channel") == COLLECT:
            sent_at.append(time.monotonic())
        return answer(path, body, auth)

    slack._answer = timed  # type: ignore[method-assign]
    bodies = many_declines(ZuoraSandbox(), n)  # the same ids as the stack's tenant
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), slack, prepare=lambda sandbox: many_declines(sandbox, n), **SETTINGS)
        stack.sandbox.inject("/*", latency=latency)
        times: list[float] = []

        def send(k: int) -> int:
            started = time.monotonic()
            status = callout(stack, bodies[k], notification_id=f"n-{k}").status_code
            times.append(time.monotonic() - started)
            return status

        start = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(send, range(n)))
        slack.wait_for(lambda rs: len(represented(rs)) >= n, timeout=1800)
        total = time.monotonic() - start
        covered = len(represented(slack.requests))
        stack.close()
    slack.close()
    times.sort()
    per_second: dict[int, int] = {}
    for t in sent_at:
        per_second[int(t - start)] = per_second.get(int(t - start), 0) + 1
    gaps = [b - a for a, b in zip(sent_at, sent_at[1:], strict=False)]
    rows = [("callouts answered 200", f"{statuses.count(200)}/{n}"),
            ("callout response p50 / p99 / max", f"{times[len(times) // 2] * 1000:.0f} / "
             f"{times[min(len(times) - 1, int(len(times) * 0.99))] * 1000:.0f} / {times[-1] * 1000:.0f} ms"),
            ("declines on a card or digest row", f"{covered}/{n}"),
            ("all represented after", f"{total:.1f} s (Zuora at {latency * 1000:.0f} ms per request)"),
            ("channel messages (posts + updates)", f"{len(slack.calls('chat.postMessage'))} + "
             f"{len(slack.calls('chat.update'))}"),
            ("most messages in one second / shortest gap", f"{max(per_second.values())} / {min(gaps):.2f} s")]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
