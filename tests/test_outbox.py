"""The outbox and what drains it: leases and retries, events that wait while their feature is off, the
per-channel limiter that folds bursts into digests, declines read in three waves, 300 of 300 on a row."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from bot.actions import Approvals, Policy
from bot.actions.outbox import Outbox, Worker
from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox
from bot.sandbox.payments import record_payment
from bot.slack.approvals import Desk, Groups
from bot.slack.notifier import Notifier
from bot.storage import open_db
from bot.webhooks.declines import handle_declined
from bot.webhooks.events import PROPOSE_TOPIC
from bot.zuora import ZuoraClient
from tests.conftest import Databases
from tests.fakes.slack_api import FakeSlack, Recorded
from tests.slack_stack import Stack, callout
from tests.test_callouts import COLLECT, SETTINGS, owing, represented

pytestmark = pytest.mark.both_databases


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.wall = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.wall + timedelta(seconds=self.t - 1000.0)

    def advance(self, seconds: float) -> None:
        self.t += seconds


def test_rows_are_leased_retried_with_backoff_and_wait_without_counting(database: str) -> None:
    clock = Clock()
    outbox = Outbox(open_db(database), now=clock.now, max_attempts=3)
    assert outbox.add("t", "k1", {"n": 1}) and not outbox.add("t", "k1", {"n": 2})  # one effect per key
    [item] = outbox.claim(["t"])
    assert item.payload == {"n": 1} and item.attempts == 1
    assert outbox.claim(["t"]) == []  # leased
    assert outbox.later(item, "boom") == "pending"
    assert outbox.claim(["t"]) == []  # backoff: not due yet
    clock.advance(5)
    [item] = outbox.claim(["t"])
    outbox.wait(item, "APPROVERS is set")  # a feature is off: the attempt does not count
    clock.advance(60)
    [item] = outbox.claim(["t"])
    assert item.attempts == 2 and outbox.status("k1") == ("pending", 2, "waiting: APPROVERS is set")
    clock.advance(600)
    outbox.later(item, "boom")
    clock.advance(600)
    [item] = outbox.claim(["t"])
    assert outbox.later(item, "boom again") == "failed" and outbox.claim(["t"]) == []
    assert outbox.add("t", "k1", {"n": 3})  # recorded again (e.g. Zuora's retry): a failed row comes back
    [item] = outbox.claim(["t"])
    outbox.done(item)
    assert outbox.status("k1") == ("done", 1, "") and not outbox.add("t", "k1", {"n": 4})


def test_a_row_held_by_a_dead_process_is_taken_back_at_start_up(database: str) -> None:
    db = open_db(database)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    dead = Outbox(db, owner=f"{socket.gethostname()}:{gone.stdout.strip()}:abc")
    alive = Outbox(db, owner=f"{socket.gethostname()}:1:abc")  # pid 1 is alive (but not this process)
    dead.add("t", "k-dead", {})
    assert dead.claim(["t"])
    alive.add("t", "k-alive", {})
    assert alive.claim(["t"])
    me = Outbox(db)
    assert me.claim(["t"]) == []  # both leased
    assert me.release_dead() == 1
    [item] = me.claim(["t"])
    assert item.key == "k-dead"


def test_four_instances_claiming_at_once_never_get_the_same_row(database: str) -> None:
    """Four processes' outboxes (each its own connections) drain one table from threads: every row is leased
    once, to one of them (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the write lock)."""
    clock = Clock()
    setup = Outbox(open_db(database), now=clock.now)
    for n in range(120):
        setup.add("t", f"k{n}", {"n": n})
    instances = [Outbox(open_db(database), now=clock.now, owner=f"instance-{n}") for n in range(4)]
    claimed: dict[str, list[int]] = {o.owner: [] for o in instances}
    barrier = threading.Barrier(len(instances))

    def drain(outbox: Outbox) -> None:
        barrier.wait()
        for _ in range(1000):  # bounded: 120 rows need at most 120 claims in all
            items = outbox.claim(["t"], limit=3)
            claimed[outbox.owner] += [item.id for item in items]
            if not items and not outbox.db.execute("select count(*) from outbox where lease_owner is null"
                                                   ).fetchone()[0]:
                return

    threads = [threading.Thread(target=drain, args=(o,)) for o in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for got in claimed.values() for i in got]
    assert len(ids) == 120 and len(set(ids)) == 120  # each row once, none twice
    owners = dict(setup.db.execute("select id, lease_owner from outbox").fetchall())
    assert all(owners[i] == owner for owner, got in claimed.items() for i in got)
    assert setup.db.execute("select count(*) from outbox where attempts != 1").fetchone() == (0,)
    for outbox in (setup, *instances):
        outbox.db.close()


def test_an_expired_lease_is_taken_over_by_another_instance(database: str) -> None:
    clock = Clock()
    first = Outbox(open_db(database), now=clock.now, owner="instance-1", lease=timedelta(minutes=2))
    second = Outbox(open_db(database), now=clock.now, owner="instance-2")
    first.add("t", "k", {})
    [item] = first.claim(["t"])
    assert second.claim(["t"]) == [] and second.claim_key("k") is None  # leased by a live instance
    clock.advance(121)  # the first instance stopped answering: its lease ends
    [again] = second.claim(["t"])
    assert again.id == item.id and again.attempts == 2
    assert first.claim(["t"]) == [] and first.claim_key("k") is None  # now the second's
    clock.advance(121)
    taken = first.claim_key("k")
    assert taken is not None and taken.attempts == 3
    row = first.db.execute("select lease_owner from outbox where key = 'k'").fetchone()
    assert row == ("instance-1",)
    first.db.close()
    second.db.close()


def test_a_slow_handler_keeps_its_row_while_it_runs(database: str) -> None:
    """The worker renews the lease of work still running: another instance never takes a row that is merely slow."""
    clock = Clock()
    first = Outbox(open_db(database), now=clock.now, owner="instance-1", lease=timedelta(seconds=30))
    second = Outbox(open_db(database), now=clock.now, owner="instance-2")
    first.add("t", "slow", {})
    first.add("t", "quick", {})
    started, release = threading.Event(), threading.Event()

    def handle(item: Any) -> None:
        if item.key == "slow":
            started.set()
            release.wait(30)
        first.done(item)

    worker = Worker(first, {"t": handle}, threads=2)
    try:
        worker.pump()
        assert started.wait(10)
        for _ in range(4):  # two minutes of slow work, renewed every 20 s of it
            clock.advance(20)
            assert worker.renew() == 1  # only the running row: the quick one is done
            assert second.claim(["t"]) == [] and second.claim_key("slow") is None
        release.set()
        assert worker.drain(time.monotonic() + 10)
    finally:
        release.set()
        worker.close(10)
    assert first.status("slow") == ("done", 1, "")
    clock.advance(31)
    assert second.claim(["t"]) == []  # done rows stay done
    assert first.renew([]) == 0
    first.db.close()
    second.db.close()


@pytest.fixture
def sandbox() -> ZuoraSandbox:
    return ZuoraSandbox()


@pytest.fixture
def client(sandbox: ZuoraSandbox) -> Iterator[ZuoraClient]:
    with ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                     transport=httpx.MockTransport(sandbox.handle)) as c:
        yield c


def test_the_channel_limiter_folds_a_burst_into_one_digest_updated_in_place(
        database: str, slack: FakeSlack, sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    clock = Clock()
    db = open_db(database)
    approvals = Approvals(db, client, Policy.parse(["U0APPROVER"], "", None), now=clock.now,
                          today=lambda: sandbox.tenant.today)
    outbox = Outbox(db, now=clock.now)
    web = WebClient(token="xoxb-test", base_url=slack.api_url)
    notifier = Notifier(Desk(approvals, Groups(())), web, outbox, clock=clock, interval=1.0, quiet=30.0)
    drafts = approvals.drafts()
    invoices = [sandbox.tenant.invoices[sandbox.tenant.invoices_of[sandbox.tenant.find("accounts", n)["id"]][-1]]
                for n in owing(sandbox, 12)]

    def propose(k: int) -> None:
        p = drafts.dunning_email(invoices[k]["invoiceNumber"], "payment declined")
        outbox.add(PROPOSE_TOPIC, f"p{k}", {"id": f"{k:032x}", "proposal": p.model_dump(mode="json"),
                                            "requester": "zuora"}, lane=COLLECT)

    def sent() -> list[Recorded]:
        return [r for r in slack.requests if r.method in ("chat.postMessage", "chat.update")]

    propose(0)
    assert notifier.pump() == 1.0 and [r.method for r in sent()] == ["chat.postMessage"]  # quiet channel: a card
    for k in range(1, 6):  # a burst
        propose(k)
    assert notifier.pump() == pytest.approx(1.0) and len(sent()) == 1  # within the second: nothing goes out
    clock.advance(0.5)
    assert notifier.pump() == pytest.approx(0.5) and len(sent()) == 1
    clock.advance(0.5)
    notifier.pump()
    digest = sent()[-1]
    assert digest.method == "chat.postMessage" and digest.body["text"].startswith("5 declined payments")
    for k in range(6, 9):
        propose(k)
    notifier.pump()
    assert len(sent()) == 2  # the limiter again
    clock.advance(1.0)
    notifier.pump()
    update = sent()[-1]
    assert update.method == "chat.update" and update.body["text"].startswith("8 declined payments")
    assert update.body["ts"] == slack.calls("chat.postMessage")[1].body.get("ts", update.body["ts"])
    clock.advance(31)  # the burst is over: the next proposal gets its own card again
    propose(9)
    notifier.pump()
    assert sent()[-1].method == "chat.postMessage" and "declined payments" not in sent()[-1].body["text"]
    assert len(slack.calls("chat.postMessage")) == 3 and len(slack.calls("chat.update")) == 1
    assert represented(slack.requests) == {f"{k:032x}" for k in range(10)}  # every proposal on a card or row
    on_digest = approvals.store.on_card(COLLECT, str(approvals.get(f"{1:032x}").message_ts))  # type: ignore[union-attr]
    assert len(on_digest) == 8


def test_a_decline_needs_at_most_three_waves_of_zuora_reads(sandbox: ZuoraSandbox, databases: Databases) -> None:
    class Waves(ZuoraClient):
        """Counts sequential waves: a parallel group is one wave, a read on the caller's thread is one."""

        def __init__(self, **kw: Any) -> None:
            super().__init__(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                             transport=httpx.MockTransport(self._handle), **kw)
            self.waves = 0
            self.requests = 0
            self.caller = threading.get_ident()

        def _handle(self, request: httpx.Request) -> httpx.Response:
            if request.url.path != "/oauth/token":
                self.requests += 1
                if threading.get_ident() == self.caller:
                    self.waves += 1
            return sandbox.handle(request)

        def concurrently(self, *calls: Callable[[], Any]) -> list[Any]:
            if len(calls) > 1:
                self.waves += 1
                before = threading.get_ident()
                self.caller = -1  # reads inside the group run on the pool: not waves of their own
                try:
                    return super().concurrently(*calls)
                finally:
                    self.caller = before
            return super().concurrently(*calls)

    stories = {"A00000003": "payment_retry", "A00000004": "dunning_email", "A00000005": "dunning_email",
               "A00000007": "collections_escalation"}
    for number, kind in stories.items():
        account = sandbox.tenant.find("accounts", number)
        assert account is not None
        errors = [p for p in sandbox.tenant.payments.values() if p["accountId"] == account["id"]
                  and p["status"] == "Error"]
        payment = errors[-1] if errors and number != "A00000007" else record_payment(
            sandbox.tenant, account, [], Decimal("500.00"), sandbox.tenant.today, "Electronic",
            account.get("defaultPaymentMethodId"), decline=("05", "Do not honor"))
        with Waves() as waves:
            approvals = Approvals(open_db(databases.new(f"{number}.db")), waves, Policy.parse(["U0A"], "", None),
                                  today=lambda: sandbox.tenant.today)
            result = handle_declined(waves, approvals, payment["id"], today=sandbox.tenant.today)
            assert result.proposal is not None and result.proposal.kind == kind, result.summary
            assert waves.waves <= 3 and waves.requests >= 5, (number, waves.waves, waves.requests)
            approvals.open(result.proposal, requester="zuora", team="T", channel=COLLECT)
            pending = approvals.pending()[0]
            claimed = approvals.approve(pending.id, clicker="U0A", team=None, groups=frozenset(),
                                        version=pending.version)
            assert claimed.kind == "claimed"
            assert approvals.run(claimed.record).kind == "done"  # type: ignore[arg-type]  # not stale


def many_declines(sandbox: ZuoraSandbox, n: int) -> list[dict[str, str]]:
    """`n` accounts cloned from a card-paying demo account, each with an open invoice and a declined payment."""
    tenant = sandbox.tenant
    template = tenant.find("accounts", "A00000003")
    assert template is not None
    invoice_template = next(tenant.invoices[i] for i in tenant.invoices_of[template["id"]]
                            if tenant.invoices[i]["status"] == "Posted" and tenant.invoices[i]["amount"] > 0)
    methods = [pm for pm in tenant.payment_methods.values() if pm.get("accountId") == template["id"]]
    bodies = []
    for k in range(n):
        account = copy.deepcopy(template)
        account.update(id=f"c{k:031x}", accountNumber=f"Z{k:08d}", name=f"Clone {k}")
        for pm in methods:
            clone = dict(copy.deepcopy(pm), id=f"d{k:031x}" if pm["id"] == template["defaultPaymentMethodId"]
                         else f"e{k:031x}", accountId=account["id"])
            tenant.add("payment_methods", clone)
        account["defaultPaymentMethodId"] = f"d{k:031x}"
        tenant.add("accounts", account, "accountNumber")
        invoice = dict(copy.deepcopy(invoice_template), id=f"f{k:031x}", invoiceNumber=f"INV7{k:07d}",
                       accountId=account["id"], balance=invoice_template["amount"])
        tenant.add("invoices", invoice, "invoiceNumber")
        tenant.invoices_of[account["id"]].append(invoice["id"])
        payment = record_payment(tenant, account, [], invoice["amount"], tenant.today, "Electronic",
                                 account["defaultPaymentMethodId"], decline=("51", "Insufficient funds"))
        bodies.append({"event": "PaymentDeclined", "PaymentId": payment["id"]})
    return bodies


def test_three_hundred_declines_are_all_on_a_card_or_a_digest_row(tmp_path: Path, slack: FakeSlack) -> None:
    stack = Stack(tmp_path, slack, **SETTINGS)
    try:
        bodies = many_declines(stack.sandbox, 300)
        with ThreadPool(16) as pool:
            statuses = pool.map(lambda n: callout(stack, bodies[n], notification_id=f"n-{n}").status_code,
                                range(300))
        assert set(statuses) == {200}
        slack.wait_for(lambda rs: len(represented(rs)) >= 300, timeout=120)
        ids = {r[0] for r in stack.services.db.execute("select id from proposals").fetchall()}
        assert len(ids) == 300 and represented(slack.requests) == ids
        posts = slack.calls("chat.postMessage")
        assert len(posts) <= 300 // 45 + 3  # folded: a handful of digests, not 300 cards
        assert stack.services.db.execute("select count(*) from callouts where status = 'done'").fetchone()[0] == 300
    finally:
        stack.close()


class ThreadPool:
    def __init__(self, n: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(n)

    def __enter__(self) -> ThreadPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown()

    def map(self, fn: Callable[[int], Any], items: range) -> list[Any]:
        return list(self._pool.map(fn, items))


@pytest.mark.parametrize("setting", ["approvers", "collections_channel"])
def test_declines_wait_while_their_feature_is_off_and_are_proposed_once_it_is_on(
        tmp_path: Path, slack: FakeSlack, caplog: pytest.LogCaptureFixture, setting: str) -> None:
    off = {k: v for k, v in SETTINGS.items() if k != setting}
    stack = Stack(tmp_path, slack, **off)
    try:
        bodies = many_declines(stack.sandbox, 2)
        for n, body in enumerate(bodies):
            assert callout(stack, body, notification_id=f"off-{n}").json() == {"success": True}
        outbox = stack.services.outbox
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and outbox.count("callout") and any(
                not (outbox.status(f"callout:PaymentDeclined:{b['PaymentId']}") or ("", 0, ""))[2].startswith(
                    "waiting") for b in bodies):
            time.sleep(0.02)
        for body in bodies:
            status = outbox.status(f"callout:PaymentDeclined:{body['PaymentId']}")
            assert status is not None and status[0] == "pending" and setting.upper() in status[2]
            inbox = stack.services.events.inbox.status(f"PaymentDeclined:{body['PaymentId']}")
            assert inbox is not None and inbox[0] == "taken" and setting.upper() in inbox[1]  # not consumed
        assert outbox.backlog() == {"callout": 2}
    finally:
        stack.close()
    said = [r.getMessage() for r in caplog.records if f"wait until {setting.upper()}" in r.getMessage()]
    assert len(said) == 1  # said once, not once per event
    assert slack.calls("chat.postMessage") == []

    # approvals switched on: the same database, a new process, the same tenant (the sandbox is seeded the same way)
    stack = Stack(tmp_path, slack, prepare=lambda sandbox: many_declines(sandbox, 2), **SETTINGS)
    try:
        slack.wait_for(lambda rs: len(represented(rs)) >= 2, timeout=30)
        done = stack.services.db.execute("select status from callouts").fetchall()
        assert done == [("done",), ("done",)]
    finally:
        stack.close()
    assert len(represented(slack.requests)) == 2


def test_a_card_left_behind_by_a_crash_after_a_click_is_updated_at_the_next_start(tmp_path: Path, database: str,
                                                                               slack: FakeSlack) -> None:
    prepare = lambda sandbox: many_declines(sandbox, 2)  # noqa: E731
    stack = Stack(tmp_path, slack, prepare=prepare, **SETTINGS)
    try:
        bodies = many_declines(ZuoraSandbox(), 2)  # the same ids as the stack's tenant
        for n, body in enumerate(bodies):
            callout(stack, body, notification_id=f"c-{n}")
        slack.wait_for(lambda rs: len(represented(rs)) >= 2, timeout=30)
        approvals = stack.services.approvals
        assert approvals is not None
        deadline = time.monotonic() + 10
        while any(r.message_ts is None for r in approvals.pending()):  # the cards' ts are recorded
            assert time.monotonic() < deadline
            time.sleep(0.01)
        first, second = sorted(r.id for r in approvals.pending())
        # A click through the desk updates the card at once and leaves no backstop work behind…
        stack.services.desk.refresh(stack.app.client, approvals.reject(
            first, clicker="U0APPROVER", team=None, groups=frozenset(), reason="paid by wire").record)
        # …a process that dies right after committing a decision leaves its card update in the outbox.
        approvals.reject(second, clicker="U0APPROVER", team=None, groups=frozenset(), reason="duplicate")
        updates = len(slack.calls("chat.update"))
    finally:
        stack.close()
    outbox = Outbox(open_db(database))
    assert outbox.count("card", "pending") == 1

    stack = Stack(tmp_path, slack, prepare=prepare, **SETTINGS)  # the next start
    try:
        slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) > updates, timeout=30)
        deadline = time.monotonic() + 10
        while stack.services.outbox.count("card", "pending"):  # marked done once Slack answered
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        stack.close()
    later = slack.calls("chat.update")[updates:]
    assert len(later) == 1 and "duplicate" in json.dumps(later[0].body)  # the second card, once


def test_a_callout_that_cannot_be_recorded_gets_503_so_zuora_sends_it_again() -> None:
    import sqlite3

    from bot.webhooks.http import callout_app

    def take(_: object) -> bool:
        raise sqlite3.OperationalError("database is locked")

    app = callout_app(take=take, username="zuora", password="pw", secret=None)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://bot") as http:
        response = http.post("/zuora/callouts", json={"event": "PaymentDeclined", "PaymentId": "P-1"},
                             auth=("zuora", "pw"))
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.json() == {"success": False, "error": "try again"}
