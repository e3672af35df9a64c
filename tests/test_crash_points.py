"""`python -m bot serve` as a real process, SIGKILLed at four points of an approved execution, then restarted.

Zuora is the sandbox served over HTTP from this process (latency injected per route opens the
windows); Slack is the fake Web API; clicks are signed requests. Each case ends with the number of
Zuora writes: exactly one per approved proposal, none when the object changed, none in READ_ONLY.

| crash point                             | how it is opened                                                  |
|-----------------------------------------|-------------------------------------------------------------------|
| after the claim                         | latency on the stale re-read (GET of the invoice)                 |
| while Zuora is answering a POST         | latency on the credit-memo POST                                   |
| while a PUT is in flight                | latency on the write-off PUT (longer than the restart)            |
| after Zuora answered, before the DB did | the test holds the write lock (SQLite) or a lock on `proposals`    |
|                                         | (PostgreSQL) from the POST until Zuora answered                   |
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ZuoraSandbox
from bot.sandbox.server import SandboxServer
from bot.storage import Database, is_url, open_db
from tests.fakes.slack_api import TEAM, FakeSlack
from tests.test_readme_slack import free_port

pytestmark = pytest.mark.both_databases

SECRET = "crash-test-signing-secret"
REP, APPROVER = "U0REP001", "U0APPROVER"
MEMO_POST, WRITE_OFF_PUT, INVOICE_GET = "/v1/credit-memos/invoice/*", "/v1/invoices/*/write-off", "/v1/invoices/*"


class Watched:
    """The sandbox, with an event set each time it has answered a write."""

    def __init__(self, sandbox: ZuoraSandbox) -> None:
        self.sandbox = sandbox
        self.answered = threading.Event()

    def handle(self, request: httpx.Request) -> httpx.Response:
        response = self.sandbox.handle(request)
        if request.method in ("POST", "PUT") and "/oauth/" not in request.url.path:
            self.answered.set()
        return response


@dataclass
class Zuora:
    sandbox: ZuoraSandbox
    watched: Watched
    url: str
    release: threading.Event

    def writes(self, pattern: str, method: str) -> list[Any]:
        return self.sandbox.requests_to(pattern, method)

    def memos_on(self, number: str) -> list[dict[str, Any]]:
        invoice = self.sandbox.tenant.find("invoices", number)
        assert invoice is not None
        return [m for m in self.sandbox.tenant.credit_memos.values() if m.get("referredInvoiceId") == invoice["id"]]


@pytest.fixture
def zuora() -> Iterator[Zuora]:
    release = threading.Event()
    sandbox = ZuoraSandbox(sleep=lambda seconds: release.wait(seconds))
    watched = Watched(sandbox)
    server = SandboxServer(watched, port=0).start()  # type: ignore[arg-type]
    yield Zuora(sandbox, watched, server.url, release)
    release.set()
    server.close()


def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Serve:
    """One `python -m bot serve` process on the shared database (`DATABASE_PATH`, or `DATABASE_URL` inherited
    from the test's environment on PostgreSQL)."""

    def __init__(self, tmp_path: Path, zuora: Zuora, slack: FakeSlack, **extra: str) -> None:
        self.port = free_port()
        env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": slack.api_url, "PORT": str(self.port), "DATABASE_PATH": str(tmp_path / "bot.db"),
               "ZUORA_BASE_URL": zuora.url, "ZUORA_CLIENT_ID": DEMO_CLIENT_ID,
               "ZUORA_CLIENT_SECRET": DEMO_CLIENT_SECRET, "APPROVERS": APPROVER, "BILLRUN_POLL_SECONDS": "0",
               "APPROVAL_SWEEP_SECONDS": "0.3", **extra}
        self.log = (tmp_path / f"serve-{self.port}.log").open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"], cwd=tmp_path,
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", trust_env=False, timeout=30)
        until(self._up, "serve to start", 60)
        self.n = 0

    def _up(self) -> bool:
        assert self.process.poll() is None, "serve exited"
        try:
            return bool(self.http.get("/healthz").json()["ok"])
        except httpx.TransportError:
            return False

    def post(self, body: str) -> httpx.Response:
        ts = str(int(time.time()))
        signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
        return self.http.post("/slack/events", content=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature})

    def command(self, text: str, slack: FakeSlack) -> httpx.Response:
        self.n += 1
        return self.post(urlencode({"command": "/billing", "text": text, "user_id": REP, "channel_id": "C0COLL",
                                    "team_id": TEAM, "response_url": slack.hook(f"c{self.port}-{self.n}"),
                                    "trigger_id": f"{self.port}.{self.n}"}))

    def click(self, value: str) -> httpx.Response:
        self.n += 1
        payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": APPROVER, "team_id": TEAM},
                   "api_app_id": "A0APP", "token": "legacy", "trigger_id": f"{self.port}.{self.n}.t",
                   "container": {"type": "message", "channel_id": "C0COLL", "message_ts": "1790000000.000001"},
                   "channel": {"id": "C0COLL"}, "response_url": "http://127.0.0.1:9/none",
                   "actions": [{"type": "button", "action_id": "approval.approve", "block_id": "b", "value": value,
                                "action_ts": str(time.time())}]}
        return self.post("payload=" + quote(json.dumps(payload)))

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no finally, no cleanup
        self.process.wait(10)
        self.http.close()
        self.log.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.http.close()
        self.log.close()


def status(db: Database, proposal_id: str) -> str | None:
    row = db.execute("select status from proposals where id = ?", [proposal_id]).fetchone()
    return row[0] if row else None


@pytest.fixture
def db(database: str) -> Iterator[Database]:
    """The test's database, as the `serve` processes share it."""
    opened = open_db(database)
    yield opened
    opened.close()


def propose(serve: Serve, slack: FakeSlack, text: str) -> str:
    """Run the command; returns the Approve button's value (`<id>:<version>`)."""
    before = len(slack.calls("chat.postMessage"))
    assert serve.command(text, slack).status_code == 200
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.postMessage"]) > before, timeout=30)
    card = slack.calls("chat.postMessage")[before]
    return next(e["value"] for b in card.body["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "approval.approve")


@contextmanager
def hold_writes(database: str) -> Iterator[None]:
    """Hold what every recording needs, from another connection: SQLite's write lock, or on PostgreSQL a lock
    on `proposals` that lets reads through (a killed process's transaction waiting on it never commits)."""
    if is_url(database):
        import psycopg

        with psycopg.connect(database) as conn:  # a transaction until the end of the block, then rolled back
            conn.execute("lock table proposals in exclusive mode")
            yield
            conn.rollback()
        return
    lock = sqlite3.connect(database, timeout=10, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def pay_in_full(zuora: Zuora, number: str) -> None:
    from bot.zuora import ZuoraClient

    with ZuoraClient(zuora.url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as client:
        invoice = client.invoices.get(number)
        client.payments.create({"type": "External", "accountId": invoice.account_id, "amount": invoice.balance,
                                "currency": invoice.currency, "effectiveDate": str(zuora.sandbox.tenant.today),
                                "invoices": [{"invoiceId": invoice.invoice_id, "amount": invoice.balance}]},
                               idempotency_key=f"wire-{number}")


@pytest.mark.parametrize("after", ["restart", "object_changed", "read_only"])
def test_killed_after_the_claim(tmp_path: Path, db: Database, zuora: Zuora, slack: FakeSlack, after: str) -> None:
    serve = Serve(tmp_path, zuora, slack)
    value = propose(serve, slack, 'credit INV-448 50 "goodwill"')
    proposal_id = value.split(":")[0]
    gets = len(zuora.writes(INVOICE_GET, "GET"))
    zuora.sandbox.inject(INVOICE_GET, method="GET", latency=30)  # the stale re-read hangs: the claim is made
    assert serve.click(value).status_code == 200
    until(lambda: len(zuora.writes(INVOICE_GET, "GET")) > gets, "the re-read")
    assert status(db, proposal_id) == "executing"
    serve.kill()
    zuora.sandbox.clear_faults()
    if after == "object_changed":
        pay_in_full(zuora, "INV00000448")
    restarted = Serve(tmp_path, zuora, slack, **({"READ_ONLY": "true"} if after == "read_only" else {}))
    try:
        final = {"restart": "succeeded", "object_changed": "stale", "read_only": "unknown"}[after]
        until(lambda: status(db, proposal_id) == final, f"the proposal to become {final}")
    finally:
        restarted.stop()
    memo_posts = zuora.writes(MEMO_POST, "POST")
    assert len(memo_posts) == (1 if after == "restart" else 0)
    assert len(zuora.memos_on("INV00000448")) == (1 if after == "restart" else 0)


ANCHORS = {"AUDIT_KEY": "crash-test-audit-key-0123456789", "AUDIT_MIRROR": "true"}


def audit_cli(tmp_path: Path, zuora: Zuora, command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ANCHORS, "DATABASE_PATH": str(tmp_path / "bot.db"), "ZUORA_BASE_URL": zuora.url,
           "ZUORA_CLIENT_ID": DEMO_CLIENT_ID, "ZUORA_CLIENT_SECRET": DEMO_CLIENT_SECRET}
    return subprocess.run([sys.executable, "-m", "bot", "audit", command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_killed_while_zuora_answers_a_post(tmp_path: Path, db: Database, zuora: Zuora, slack: FakeSlack) -> None:
    serve = Serve(tmp_path, zuora, slack, **ANCHORS)
    value = propose(serve, slack, 'credit INV-448 50 "goodwill"')
    proposal_id = value.split(":")[0]
    zuora.sandbox.inject(MEMO_POST, method="POST", latency=4)
    assert serve.click(value).status_code == 200
    until(lambda: zuora.writes(MEMO_POST, "POST"), "the POST to reach Zuora")
    serve.kill()  # Zuora is still working on it
    restarted = Serve(tmp_path, zuora, slack, **ANCHORS)
    try:
        until(lambda: status(db, proposal_id) == "succeeded", "the proposal to be settled")
    finally:
        restarted.stop()
    keys = {r.headers.get("idempotency-key") for r in zuora.writes(MEMO_POST, "POST")}
    assert keys == {proposal_id} and len(zuora.memos_on("INV00000448")) == 1
    assert Decimal(zuora.sandbox.tenant.find("invoices", "INV00000448")["balance"]) == Decimal("3628.81")  # type: ignore[index]
    # the audit log survived the kill, mirrored in Zuora and signed outside the database
    assert audit_cli(tmp_path, zuora, "mirror").returncode == 0
    verified = audit_cli(tmp_path, zuora, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "checked against signed checkpoints and Zuora mirror" in verified.stdout
    actions = [r["ActionType__c"] for r in zuora.sandbox.tenant.object_records["AI_Audit_Log"].values()]
    assert actions[0] == "credit_memo:proposed" and actions[-1] == "credit_memo:recovered_succeeded"


def test_killed_while_a_put_is_in_flight(tmp_path: Path, db: Database, zuora: Zuora, slack: FakeSlack) -> None:
    serve = Serve(tmp_path, zuora, slack, APPROVAL_PUT_GRACE_SECONDS="60")
    value = propose(serve, slack, "write off INV-449 as uncollectable")
    proposal_id = value.split(":")[0]
    zuora.sandbox.inject(WRITE_OFF_PUT, method="PUT", latency=8)  # outlasts the restart
    assert serve.click(value).status_code == 200
    until(lambda: zuora.writes(WRITE_OFF_PUT, "PUT"), "the PUT to reach Zuora")
    serve.kill()
    restarted = Serve(tmp_path, zuora, slack, APPROVAL_PUT_GRACE_SECONDS="60")
    try:
        until(lambda: status(db, proposal_id) == "succeeded", "the write-off to be found", 60)
    finally:
        restarted.stop()
    assert len(zuora.writes(WRITE_OFF_PUT, "PUT")) == 1  # never a second PUT while the first may land
    outcome = json.loads(db.execute("select outcome from proposals where id = ?", [proposal_id]).fetchone()[0])
    assert outcome["document"].startswith("CM")


def test_killed_after_zuora_answered_before_the_database_recorded_it(tmp_path: Path, database: str, db: Database,
                                                                     zuora: Zuora, slack: FakeSlack) -> None:
    serve = Serve(tmp_path, zuora, slack)
    value = propose(serve, slack, 'credit INV-448 50 "goodwill"')
    proposal_id = value.split(":")[0]
    zuora.sandbox.inject(MEMO_POST, method="POST", latency=1)
    zuora.watched.answered.clear()
    assert serve.click(value).status_code == 200
    until(lambda: zuora.writes(MEMO_POST, "POST"), "the POST to reach Zuora")
    with hold_writes(database):  # nobody records anything until we let go
        assert zuora.watched.answered.wait(10)  # Zuora made the memo and answered
        serve.kill()
    assert status(db, proposal_id) == "executing" and len(zuora.memos_on("INV00000448")) == 1
    restarted = Serve(tmp_path, zuora, slack)
    try:
        until(lambda: status(db, proposal_id) == "succeeded", "the proposal to be settled")
    finally:
        restarted.stop()
    assert len(zuora.memos_on("INV00000448")) == 1
    assert {r.headers.get("idempotency-key") for r in zuora.writes(MEMO_POST, "POST")} == {proposal_id}


def test_approve_edit_race_across_processes_never_runs_a_body_the_approver_did_not_see(
        tmp_path: Path, database: str, zuora: Zuora) -> None:
    from bot.actions import Approvals, Policy
    from bot.zuora import ZuoraClient

    outcomes = []
    with ZuoraClient(zuora.url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as client:
        approvals = Approvals(open_db(database), client, Policy.parse([APPROVER], "", None),
                              today=lambda: zuora.sandbox.tenant.today)
        for n in range(4):
            record = approvals.open(approvals.drafts().credit_memo("INV00000448", Decimal("50.00"), "goodwill"),
                                    requester="U0REP", team="T0ACME", channel="C0")
            go = tmp_path / f"go-{n}"
            sides = [subprocess.Popen([sys.executable, "-m", "tests.money_race", role, database, zuora.url, record.id,
                                       str(go)], stdout=subprocess.PIPE, text=True,
                                      cwd=Path(__file__).resolve().parents[1]) for role in ("approve", "edit")]
            for side in sides:
                assert side.stdout is not None and side.stdout.readline().strip() == "ready"
            go.touch()
            approve_kind, edit_kind = (side.communicate(timeout=60)[0].strip() for side in sides)
            outcomes.append((approve_kind, edit_kind))
            assert (approve_kind, edit_kind) in {("done", "already"), ("changed", "edited")}
    amounts = [sum(Decimal(str(i["amount"])) for i in json.loads(r.body)["items"])
               for r in zuora.writes(MEMO_POST, "POST")]
    assert set(amounts) <= {Decimal("50.00")}  # never the edited amount nobody approved
    assert len(amounts) == sum(1 for o in outcomes if o[0] == "done")
