"""Benchmark the Slack app over real HTTP: `/billing`, a mention, and an Approve click on a credit card.

Run: `.venv/bin/python benchmarks/slack.py` (prints a table; no network). The whole app runs under
waitress with the embedded sandbox (simulated Zuora latency per API request) and a local fake of
Slack's Web API, exactly as in `tests/test_slack_app.py`. Slack's deadline for the ack is 3 s.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.fakes.slack_api import FakeSlack
from tests.slack_stack import Stack

LATENCIES_MS = [0, 100, 1000]
RUNS = 8


def _billing(stack: Stack, slack: FakeSlack, run: int) -> tuple[float, float]:
    before = len([r for r in slack.requests if r.method.startswith("/hooks/")])
    started = time.perf_counter()
    response = stack.command("why is INV-42 higher", user=f"U0BENCH{run:03d}")
    acked = time.perf_counter() - started
    assert response.status_code == 200
    slack.wait_for(lambda rs: len([r for r in rs if r.method.startswith("/hooks/")]) > before, timeout=60)
    return acked * 1000, (time.perf_counter() - started) * 1000


def _mention(stack: Stack, slack: FakeSlack, run: int) -> tuple[float, float]:
    before = len(slack.calls("chat.update"))
    posts = len(slack.calls("chat.postMessage"))
    started = time.perf_counter()
    stack.mention("why is INV-42 higher", ts=f"1790001{run:03d}.000100")
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.postMessage"]) > posts, timeout=60)
    placeholder = time.perf_counter() - started
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) > before, timeout=60)
    return placeholder * 1000, (time.perf_counter() - started) * 1000


def _approve(stack: Stack, slack: FakeSlack, run: int) -> tuple[float, float]:
    """Propose a credit, then time the Approve click: its ack, and the card showing the outcome."""
    cards = len([r for r in slack.requests if r.method == "chat.postMessage" and "approval.approve" in str(r.body)])
    stack.command(f'credit INV-448 {run + 1} "goodwill"', user="U0REP001")
    posted = slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.postMessage"
                                            and "approval.approve" in str(r.body)]) > cards, timeout=60)
    card = [r for r in posted if r.method == "chat.postMessage" and "approval.approve" in str(r.body)][-1]
    proposal_id = [e for b in card.body["blocks"] if b["type"] == "actions" for e in b["elements"]][0]["value"]
    updates = len(slack.calls("chat.update"))
    started = time.perf_counter()
    response = stack.action("approval.approve", proposal_id, user="U0APPROVER", message={"ts": "1"})
    acked = time.perf_counter() - started
    assert response.status_code == 200
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= updates + 2, timeout=60)
    return acked * 1000, (time.perf_counter() - started) * 1000


def main() -> None:
    print(f"{'surface':<10} {'zuora/req':>9} {'ack or placeholder ms (p50/max)':>32} {'answer ms (p50/max)':>20}")
    for latency in LATENCIES_MS:
        for name, run_once in (("/billing", _billing), ("mention", _mention), ("approve", _approve)):
            slack = FakeSlack().start()
            with tempfile.TemporaryDirectory() as tmp:
                stack = Stack(Path(tmp), slack, approvers="U0APPROVER")
                if latency:
                    stack.sandbox.inject("/*", latency=latency / 1000)
                first, answered = zip(*(run_once(stack, slack, n) for n in range(RUNS)), strict=True)
                stack.close()
            slack.close()
            print(f"{name:<10} {latency:>7}ms {statistics.median(first):>20.1f} / {max(first):>8.1f} "
                  f"{statistics.median(answered):>10.1f} / {max(answered):>7.1f}")
    print(f"\npeak RSS of this process (app, sandbox, fake Slack, client): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
