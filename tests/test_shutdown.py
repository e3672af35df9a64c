"""`python -m bot serve` as a real process: SIGTERM during a burst of callouts and during an approval
that Zuora is slow to answer, SIGKILL before a card is posted.

Nothing is lost either way: every callout Zuora got a 200 for is handled once, every proposal's
card is posted once (after a restart when the process died first), an approval in flight finishes
and is recorded before the process exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox import ZuoraSandbox
from bot.storage import open_db
from tests.fakes.slack_api import FakeSlack, Recorded

COLLECT = "C0COLLECT"
USER, PASSWORD = "zuora", "callout-password-123"

pytestmark = pytest.mark.both_databases


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """One `python -m bot serve` process on a database that outlives it (`DATABASE_PATH`, or on PostgreSQL the
    `DATABASE_URL` it inherits from the test)."""

    def __init__(self, tmp_path: Path, slack: FakeSlack, **env: str) -> None:
        self.port = free_port()
        self.db = os.environ.get("DATABASE_URL") or str(tmp_path / "bot.db")
        self.log = tmp_path / f"serve-{self.port}.log"
        self.env = {**os.environ, "ZUORA_BASE_URL": "demo", "SLACK_BOT_TOKEN": "xoxb-test",
                    "SLACK_SIGNING_SECRET": "shutdown-secret",
                    "SLACK_API_URL": slack.api_url, "DATABASE_PATH": str(tmp_path / "bot.db"), "PORT": str(self.port),
                    "APPROVERS": "U0APPROVER", "COLLECTIONS_CHANNEL": COLLECT, "ZUORA_CALLOUT_USERNAME": USER,
                    "ZUORA_CALLOUT_PASSWORD": PASSWORD, "BILLRUN_POLL_SECONDS": "0", **env}
        self.out = self.log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"],
                                        cwd=tmp_path, env=self.env, stdout=self.out, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", trust_env=False, timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.http.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)

    def output(self) -> str:
        if not self.out.closed:
            self.out.flush()
        return self.log.read_text()

    def callout(self, body: dict[str, Any], notification_id: str) -> httpx.Response:
        return self.http.post("/zuora/callouts", content=json.dumps(body).encode(), auth=(USER, PASSWORD),
                              headers={"Content-Type": "application/json", "Zuora-Notification-Id": notification_id})

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            self.http.close()
            self.out.close()


@pytest.fixture
def payments() -> dict[str, list[str]]:
    """Payment ids in the demo tenant the process seeds: declined (with a story) and processed."""
    tenant = ZuoraSandbox().tenant
    accounts = {a["id"]: a["accountNumber"] for a in tenant.accounts.values()}
    declined = []
    for number in ("A00000003", "A00000004", "A00000005"):
        errors = [p for p in tenant.payments.values() if accounts[p["accountId"]] == number and p["status"] == "Error"]
        declined.append(errors[-1]["id"])
    processed = [p["id"] for p in tenant.payments.values() if p["status"] == "Processed"][:40]
    return {"declined": declined, "processed": processed}


def rows(database: str, sql: str) -> list[tuple[Any, ...]]:
    db = open_db(database, migrate=False)
    try:
        return [tuple(row) for row in db.execute(sql).fetchall()]
    finally:
        db.close()


def proposal_ids(requests: list[Recorded], methods: tuple[str, ...] = ("chat.postMessage",)) -> list[str]:
    """Proposal ids on messages sent to the collections channel, once per message that carries them."""
    return [b["block_id"].removeprefix("approval:") for r in requests
            if r.method in methods and r.body.get("channel") == COLLECT
            for b in r.body.get("blocks") or [] if str(b.get("block_id", "")).startswith("approval:")]


def test_sigterm_during_a_burst_of_callouts_loses_nothing(tmp_path: Path, slack: FakeSlack,
                                                         payments: dict[str, list[str]]) -> None:
    bodies = [{"event": "PaymentDeclined", "PaymentId": pid} for pid in payments["declined"] + payments["processed"]]
    serve = Serve(tmp_path, slack)
    answered: dict[int, int] = {}
    halfway = threading.Event()

    def send(n: int) -> None:
        try:
            answered[n] = serve.callout(bodies[n], f"burst-{n}").status_code
        except httpx.TransportError:
            answered[n] = 0  # refused: the process stopped accepting; Zuora retries it later
        if len(answered) >= len(bodies) // 3:
            halfway.set()

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(send, n) for n in range(len(bodies))]
        assert halfway.wait(60)
        serve.process.send_signal(signal.SIGTERM)  # mid-burst
        for f in futures:
            f.result()
    assert serve.process.wait(60) == 0, serve.output()
    serve.out.close()
    serve.http.close()
    output = serve.output()
    assert "SIGTERM: no new requests" in output and "stopped cleanly" in output
    taken = {f"PaymentDeclined:{bodies[n]['PaymentId']}" for n, status in answered.items() if status == 200}
    assert taken, "no callout was answered before the signal"
    inbox = dict(rows(serve.db, "select business_key, status from callouts"))
    assert taken <= set(inbox)  # every 200 was recorded before it was sent
    work = dict(rows(serve.db, "select key, status from outbox where topic = 'callout'"))
    for key in taken:  # done, or still in the outbox for the next start: never dropped
        assert inbox[key] == "done" or work[f"callout:{key}"] == "pending", key

    again = Serve(tmp_path, slack)  # the restart; Zuora retries what was refused
    for n, status in sorted(answered.items()):
        if status != 200:
            assert again.callout(bodies[n], f"burst-{n}").status_code == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        statuses = rows(again.db, "select status from callouts")
        if len(statuses) == len(bodies) and all(s == ("done",) for s in statuses):
            break
        time.sleep(0.1)
    assert sorted(rows(again.db, "select status, count(*) from callouts group by status")) == [("done", len(bodies))]
    slack.wait_for(lambda rs: len(set(proposal_ids(rs, ("chat.postMessage", "chat.update")))) >= 3, timeout=30)
    assert again.stop() == 0, again.output()
    proposals = [r[0] for r in rows(again.db, "select id from proposals")]
    assert len(proposals) == 3  # one per declined payment, whatever the restarts
    posted = proposal_ids(slack.requests)  # a card, or a digest that later updates may extend
    assert len(posted) == len(set(posted))  # never posted twice
    assert set(proposal_ids(slack.requests, ("chat.postMessage", "chat.update"))) == set(proposals)
    assert rows(again.db, "select count(*) from proposals where message_ts is null") == [(0,)]


def test_a_decline_killed_before_its_card_is_posted_gets_its_card_after_restart_once(
        tmp_path: Path, slack: FakeSlack, payments: dict[str, list[str]]) -> None:
    slack.fail("chat.postMessage", "internal_error")  # Slack hiccups: the card waits for its retry…
    serve = Serve(tmp_path, slack)
    body = {"event": "PaymentDeclined", "PaymentId": payments["declined"][0]}
    assert serve.callout(body, "kill-1").json() == {"success": True}
    slack.wait_for(lambda rs: any(r.method == "chat.postMessage" for r in rs), timeout=30)
    assert serve.stop(signal.SIGKILL) == -signal.SIGKILL  # …and the process is killed before the retry
    assert rows(serve.db, "select status from callouts") == [("done",)]  # the work is recorded…
    assert rows(serve.db, "select status from outbox where topic = 'propose'") == [("pending",)]  # …the card not
    assert rows(serve.db, "select count(*) from proposals where message_ts is not null") == [(0,)]

    again = Serve(tmp_path, slack)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.postMessage"]) >= 2, timeout=30)
    assert again.callout(body, "kill-1").json() == {"success": True, "duplicate": True}  # Zuora's retry
    assert again.stop() == 0, again.output()
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 2  # the refused one, then the card
    [proposal] = rows(again.db, "select id, message_ts from proposals")
    assert proposal[1] is not None and proposal_ids(posts[1:]) == [proposal[0]]
    assert rows(again.db, "select status from outbox") == [("done",), ("done",)]


def test_sigterm_while_an_approval_runs_in_zuora_lets_it_finish(tmp_path: Path, slack: FakeSlack) -> None:
    from urllib.parse import quote

    from slack_sdk.signature import SignatureVerifier

    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from bot.sandbox.server import SandboxServer

    sandbox = ZuoraSandbox()
    account = sandbox.tenant.find("accounts", "A00000004")  # hard decline: a reminder email (one POST)
    assert account is not None
    payment = [p for p in sandbox.tenant.payments.values() if p["accountId"] == account["id"]
               and p["status"] == "Error"][-1]
    with SandboxServer(sandbox) as zuora:
        serve = Serve(tmp_path, slack, ZUORA_BASE_URL=zuora.url, ZUORA_CLIENT_ID=DEMO_CLIENT_ID,
                      ZUORA_CLIENT_SECRET=DEMO_CLIENT_SECRET)
        assert serve.callout({"event": "PaymentDeclined", "PaymentId": payment["id"]}, "click-1").status_code == 200
        [card] = slack.wait_for(lambda rs: any(r.method == "chat.postMessage" for r in rs), timeout=30) and \
            slack.calls("chat.postMessage")
        approve = next(e for b in card.body["blocks"] if b["type"] == "actions" for e in b["elements"]
                       if "approve" in e["action_id"])
        sandbox.inject("/v1/invoices/*/emails", method="POST", latency=2.0)  # Zuora is slow to answer
        payload = {"type": "block_actions", "team": {"id": "T0000001"}, "api_app_id": "A0APP", "token": "legacy",
                   "user": {"id": "U0APPROVER", "team_id": "T0000001"}, "trigger_id": "1.trigger",
                   "container": {"type": "message", "channel_id": COLLECT, "message_ts": "1790000001.000100"},
                   "channel": {"id": COLLECT}, "response_url": slack.hook("click"),
                   "message": {"ts": "1790000001.000100"},
                   "actions": [{"type": "button", "action_id": approve["action_id"], "block_id": "b1",
                                "value": approve["value"], "action_ts": str(time.time())}]}
        body = "payload=" + quote(json.dumps(payload))
        ts = str(int(time.time()))
        signature = SignatureVerifier("shutdown-secret").generate_signature(timestamp=ts, body=body)
        clicked = threading.Thread(target=lambda: serve.http.post("/slack/events", content=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature}))
        clicked.start()
        deadline = time.monotonic() + 30
        while not sandbox.requests_to("/v1/invoices/*/emails", "POST"):
            assert time.monotonic() < deadline, "the approval never reached Zuora"
            time.sleep(0.01)
        assert serve.stop() == 0, serve.output()  # SIGTERM while Zuora holds the POST
        clicked.join(10)
    assert len(sandbox.requests_to("/v1/invoices/*/emails", "POST")) == 1
    assert len(sandbox.tenant.emails) == 1  # the email went out, once
    [(status,)] = rows(serve.db, "select status from proposals")
    assert status == "succeeded"  # recorded before the process exited
    assert slack.calls("chat.update")[-1].body["text"].startswith("Done")  # and the card says so


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_socket_mode_stops_cleanly_on_a_signal(tmp_path: Path, slack: FakeSlack, sig: int) -> None:
    from tests.fakes.socket_mode import FakeSocketMode

    socket_mode = FakeSocketMode()
    slack.socket_url = socket_mode.url
    env = {**os.environ, "ZUORA_BASE_URL": "demo", "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test",
           "SLACK_API_URL": slack.api_url, "DATABASE_PATH": str(tmp_path / "bot.db"), "BILLRUN_POLL_SECONDS": "0"}
    process = subprocess.Popen([sys.executable, "-m", "bot", "socket"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert socket_mode.connected.wait(60), "the app did not connect"
        process.send_signal(sig)
        output = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
        socket_mode.close()
    assert process.returncode == 0, output
    assert f"{signal.Signals(sig).name}: closing the Socket Mode connection" in output and "stopped cleanly" in output


def test_a_decline_killed_while_zuora_is_being_read_is_handled_after_restart_once(
        tmp_path: Path, slack: FakeSlack) -> None:
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from bot.sandbox.server import SandboxServer

    sandbox = ZuoraSandbox()
    account = sandbox.tenant.find("accounts", "A00000004")
    assert account is not None
    payment = [p for p in sandbox.tenant.payments.values() if p["accountId"] == account["id"]
               and p["status"] == "Error"][-1]
    body = {"event": "PaymentDeclined", "PaymentId": payment["id"]}
    with SandboxServer(sandbox) as zuora:
        env = {"ZUORA_BASE_URL": zuora.url, "ZUORA_CLIENT_ID": DEMO_CLIENT_ID,
               "ZUORA_CLIENT_SECRET": DEMO_CLIENT_SECRET}
        slow = sandbox.inject(f"/v1/payments/{payment['id']}", method="GET", latency=30.0)
        serve = Serve(tmp_path, slack, **env)
        assert serve.callout(body, "read-1").json() == {"success": True}
        deadline = time.monotonic() + 30
        while not sandbox.requests_to(f"/v1/payments/{payment['id']}", "GET"):
            assert time.monotonic() < deadline, "the callout's work never started"
            time.sleep(0.01)
        assert serve.stop(signal.SIGKILL) == -signal.SIGKILL  # killed in the middle of the first wave
        assert rows(serve.db, "select status from callouts") == [("taken",)]
        assert rows(serve.db, "select status from outbox") == [("pending",)]  # the work is still there
        assert slack.calls("chat.postMessage") == []
        sandbox.faults.remove(slow)

        again = Serve(tmp_path, slack, **env)  # a lease held by a dead process is taken back at once
        slack.wait_for(lambda rs: any(r.method == "chat.postMessage" for r in rs), timeout=30)
        assert again.callout(body, "read-1").json() == {"success": True, "duplicate": True}
        assert again.stop() == 0, again.output()
    [card] = slack.calls("chat.postMessage")
    [(proposal, ts)] = rows(again.db, "select id, message_ts from proposals")
    assert ts is not None and proposal_ids([card]) == [proposal]
    assert rows(again.db, "select status from callouts") == [("done",)]
