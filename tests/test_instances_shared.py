"""What several instances on one database share: leases (the poller and the approvals sweep run on one at a time),
the per-channel post limiter (pacing and the open digest), the outbox lease, and Slack's dedupe.

Each "instance" here is its own connection (or pool) to the test's database with its own owner id;
the clock is injected and shared, so the instances agree on time as the wall clock makes them agree.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from bot.actions import Approvals, Policy
from bot.actions.outbox import Outbox
from bot.app import build
from bot.billruns.subscribers import Subscribers
from bot.config import load_settings
from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox
from bot.slack.approvals import Desk, Groups
from bot.slack.middleware import EventLog
from bot.slack.notifier import Notifier
from bot.slack.pacing import ChannelSlots
from bot.storage import Database, open_db
from bot.storage.leases import Leader, Leases
from bot.webhooks.events import PROPOSE_TOPIC, Events
from bot.webhooks.poller import Poller
from bot.zuora import ZuoraClient
from tests.fakes.slack_api import FakeSlack, Recorded
from tests.test_callouts import COLLECT, owing, represented

pytestmark = pytest.mark.both_databases


class Clock:
    """Seconds (the notifiers' clock) and the matching wall-clock datetime (the stores' `now`)."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0
        self.start = datetime.fromtimestamp(self.t, UTC)

    def __call__(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t - 1_800_000_000.0)

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def dbs(database: str) -> Iterator[Callable[[], Database]]:
    """Opens connections to the test's database (one per instance); closes them after the test."""
    opened: list[Database] = []

    def connect() -> Database:
        opened.append(open_db(database))
        return opened[-1]

    yield connect
    for db in opened:
        db.close()


# -- leases -----------------------------------------------------------------------------------------


def test_a_lease_is_held_by_one_instance_renewed_by_it_and_taken_over_when_it_expires(
        dbs: Callable[[], Database]) -> None:
    clock = Clock()
    a, b = Leases(dbs(), now=clock.now), Leases(dbs(), now=clock.now)
    ttl = timedelta(seconds=90)
    assert a.acquire("poller", "host-a:1:x", ttl) and not b.acquire("poller", "host-b:1:y", ttl)
    clock.advance(60)
    assert a.acquire("poller", "host-a:1:x", ttl)  # renewed: now held until t+150
    clock.advance(60)
    assert not b.acquire("poller", "host-b:1:y", ttl) and b.holder("poller") == "host-a:1:x"
    clock.advance(30)  # instance a died 90 s ago: its lease ran out
    assert b.holder("poller") is None
    assert b.acquire("poller", "host-b:1:y", ttl) and not a.acquire("poller", "host-a:1:x", ttl)
    assert a.holder("poller") == "host-b:1:y"
    assert a.acquire("sweep", "host-a:1:x", ttl)  # another name: another lease
    assert not a.release("poller", "host-a:1:x")  # only the holder releases
    assert b.release("poller", "host-b:1:y")  # at shutdown: the next instance takes it at once
    assert a.acquire("poller", "host-a:1:x", ttl)


def test_of_instances_asking_at_once_exactly_one_gets_the_lease(dbs: Callable[[], Database]) -> None:
    clock = Clock()
    instances = [Leases(dbs(), now=clock.now) for _ in range(6)]
    barrier = threading.Barrier(len(instances))
    won: list[str] = []

    def ask(n: int) -> None:
        barrier.wait()
        if instances[n].acquire("sweep", f"host-{n}:1:x", timedelta(seconds=60)):
            won.append(f"host-{n}:1:x")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(instances))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and instances[0].holder("sweep") == won[0]


def test_a_lease_left_by_a_stopped_process_of_this_host_is_taken_at_once(dbs: Callable[[], Database]) -> None:
    clock = Clock()
    leases = Leases(dbs(), now=clock.now)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    assert leases.acquire("poller", f"{host}:{gone.stdout.strip()}:abc", timedelta(minutes=15))
    assert leases.acquire("sweep", f"{host}:1:abc", timedelta(minutes=15))  # pid 1 runs: not taken
    assert leases.acquire("poller", f"{host}:2:def", timedelta(minutes=15))
    assert leases.holder("poller") == f"{host}:2:def"
    assert not leases.acquire("sweep", f"{host}:2:def", timedelta(minutes=15))


def test_only_the_instance_holding_the_lease_polls_zuora(dbs: Callable[[], Database]) -> None:
    """Two instances' pollers on one database: the one with the lease asks Zuora; the other skips its passes
    until the first gives the lease up (at its shutdown)."""
    clock = Clock()
    sandbox = ZuoraSandbox()

    def instance(owner: str) -> tuple[Poller, Leader, list[str]]:
        asked: list[str] = []

        def handle(request: httpx.Request) -> httpx.Response:
            if request.url.path != "/oauth/token":
                asked.append(request.url.path)
            return sandbox.handle(request)

        db = dbs()
        client = ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                             transport=httpx.MockTransport(handle))
        outbox = Outbox(db, now=clock.now, owner=owner)
        events = Events(zuora=client, db=db, outbox=outbox, approvals=None, channel=None,
                        subscribers=Subscribers(db), today=lambda: sandbox.tenant.today)
        poller = Poller(client, db, events, now=lambda: clock.now().replace(tzinfo=None))
        return poller, Leader(Leases(db, now=clock.now), "zuora-poller", owner, timedelta(minutes=15)), asked

    def passes(poller: Poller, lease: Leader, n: int) -> list[bool]:
        """Run the poller's loop for `n` passes (no waiting between them); what the lease said each time."""
        stop = threading.Event()
        said: list[bool] = []

        def leader() -> bool:
            said.append(lease())
            if len(said) == n:
                stop.set()
            return said[-1]

        poller.run(stop, 0.0, leader=leader)
        return said

    poller_a, lease_a, asked_a = instance("host-a:1:a")
    poller_b, lease_b, asked_b = instance("host-b:1:b")
    assert passes(poller_a, lease_a, 2) == [True, True] and asked_a
    assert passes(poller_b, lease_b, 3) == [False, False, False] and asked_b == []
    lease_a.release()
    assert passes(poller_b, lease_b, 1) == [True] and asked_b
    before = len(asked_a)
    assert passes(poller_a, lease_a, 1) == [False] and len(asked_a) == before


def test_with_several_instances_the_first_sweep_leaves_a_proposal_another_may_be_executing(
        dbs: Callable[[], Database], slack: FakeSlack) -> None:
    """`executing` at start-up means a crash only when this process is alone: on a shared database another
    instance may be running it right now, so the first pass settles it only once it is stuck."""
    clock = Clock()
    sandbox = ZuoraSandbox()
    client = ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                         transport=httpx.MockTransport(sandbox.handle))
    web = WebClient(token="xoxb-test", base_url=slack.api_url)
    approvals = Approvals(dbs(), client, Policy.parse(["U0APPROVER"], "", None), now=clock.now,
                          today=lambda: sandbox.tenant.today)
    [number] = owing(sandbox, 1)
    invoice = sandbox.tenant.invoices[sandbox.tenant.invoices_of[sandbox.tenant.find("accounts", number)["id"]][-1]]
    record = approvals.open(approvals.drafts().dunning_email(invoice["invoiceNumber"], "payment declined"),
                            requester="zuora", team="T", channel=COLLECT)
    claimed = approvals.approve(record.id, clicker="U0APPROVER", team=None, groups=frozenset(),
                                version=record.version)
    assert claimed.kind == "claimed"  # and then its process died, or it is still running elsewhere

    def first_pass(alone: bool) -> None:
        stop = threading.Event()

        def leader() -> bool:  # this instance holds the lease for one pass, then the loop stops
            stop.set()
            return True

        Desk(approvals, Groups(())).housekeeping(web, stop, every=0.0, leader=leader, alone=alone)

    first_pass(alone=False)
    assert approvals.get(record.id).status == "executing"  # type: ignore[union-attr]
    first_pass(alone=True)  # one process on SQLite: it can only be a crash
    assert approvals.get(record.id).status == "succeeded"  # type: ignore[union-attr]


# -- the per-channel post limiter -------------------------------------------------------------------


class Instance:
    """One instance's notifier: its own connection, outbox (owner), approvals and desk; shared Slack and clock."""

    def __init__(self, db: Database, client: ZuoraClient, sandbox: ZuoraSandbox, slack: FakeSlack, clock: Clock,
                 owner: str) -> None:
        self.approvals = Approvals(db, client, Policy.parse(["U0APPROVER"], "", None), now=clock.now,
                                   today=lambda: sandbox.tenant.today)
        self.outbox = Outbox(db, now=clock.now, owner=owner)
        self.notifier = Notifier(Desk(self.approvals, Groups(())), WebClient(token="xoxb-test",
                                                                             base_url=slack.api_url),
                                 self.outbox, clock=clock, interval=1.0, quiet=30.0)


@pytest.fixture
def zuora() -> Iterator[tuple[ZuoraSandbox, ZuoraClient]]:
    sandbox = ZuoraSandbox()
    with ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                     transport=httpx.MockTransport(sandbox.handle)) as client:
        yield sandbox, client


def _proposer(sandbox: ZuoraSandbox, instance: Instance, n: int) -> Callable[[Outbox, int], None]:
    drafts = instance.approvals.drafts()
    invoices = [sandbox.tenant.invoices[sandbox.tenant.invoices_of[sandbox.tenant.find("accounts", a)["id"]][-1]]
                for a in owing(sandbox, n)]

    def propose(outbox: Outbox, k: int) -> None:
        p = drafts.dunning_email(invoices[k]["invoiceNumber"], "payment declined")
        outbox.add(PROPOSE_TOPIC, f"p{k}", {"id": f"{k:032x}", "proposal": p.model_dump(mode="json"),
                                            "requester": "zuora"}, lane=COLLECT)

    return propose


def _sent(slack: FakeSlack) -> list[Recorded]:
    return [r for r in slack.requests if r.method in ("chat.postMessage", "chat.update")]


def test_two_instances_drain_one_burst_into_one_digest_paced_per_channel(
        dbs: Callable[[], Database], slack: FakeSlack, zuora: tuple[ZuoraSandbox, ZuoraClient]) -> None:
    sandbox, client = zuora
    clock = Clock()
    a = Instance(dbs(), client, sandbox, slack, clock, "host-a:1:a")
    b = Instance(dbs(), client, sandbox, slack, clock, "host-b:1:b")
    propose = _proposer(sandbox, a, 10)

    propose(a.outbox, 0)
    assert a.notifier.pump() == 1.0 and [r.method for r in _sent(slack)] == ["chat.postMessage"]  # quiet: a card
    for k in range(1, 6):  # a burst, recorded by either instance
        propose((a, b)[k % 2].outbox, k)
    assert b.notifier.pump() == pytest.approx(1.0) and a.notifier.pump() == pytest.approx(1.0)
    assert len(_sent(slack)) == 1  # within the second after a's card, neither sends
    clock.advance(0.5)
    assert b.notifier.pump() == pytest.approx(0.5) and len(_sent(slack)) == 1
    clock.advance(0.5)
    b.notifier.pump()  # b takes the channel: the channel is busy (a's card), so a digest
    digest = _sent(slack)[-1]
    assert digest.method == "chat.postMessage" and digest.body["text"].startswith("5 declined payments")
    assert a.notifier.pump() is None and len(_sent(slack)) == 2  # nothing left for a
    for k in range(6, 9):
        propose((a, b)[k % 2].outbox, k)
    a.notifier.pump()
    assert len(_sent(slack)) == 2  # paced: b sent less than a second ago
    clock.advance(1.0)
    a.notifier.pump()  # a adds the rows to the digest b posted, in place
    update = _sent(slack)[-1]
    digest_ts = a.approvals.get(f"{1:032x}").message_ts  # type: ignore[union-attr]
    assert update.method == "chat.update" and update.body["text"].startswith("8 declined payments")
    assert update.body["ts"] == digest_ts
    clock.advance(31)  # the burst is over: the next proposal gets its own card again
    propose(b.outbox, 9)
    b.notifier.pump()
    assert _sent(slack)[-1].method == "chat.postMessage" and "declined payments" not in _sent(slack)[-1].body["text"]
    assert len(slack.calls("chat.postMessage")) == 3 and len(slack.calls("chat.update")) == 1
    assert represented(slack.requests) == {f"{k:032x}" for k in range(10)}  # every proposal on a card or row
    assert len(a.approvals.store.on_card(COLLECT, str(digest_ts))) == 8


def test_instances_pumping_at_the_same_moment_send_one_message_to_a_channel(
        dbs: Callable[[], Database], slack: FakeSlack, zuora: tuple[ZuoraSandbox, ZuoraClient]) -> None:
    sandbox, client = zuora
    clock = Clock()  # moves only between the rounds: in a round every instance pumps at the same instant
    instances = [Instance(dbs(), client, sandbox, slack, clock, f"host-{n}:1:x") for n in range(4)]
    propose = _proposer(sandbox, instances[0], 12)

    def all_pump() -> None:
        barrier = threading.Barrier(len(instances))
        errors: list[BaseException] = []

        def pump(instance: Instance) -> None:
            barrier.wait()
            try:
                instance.notifier.pump()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=pump, args=(i,)) for i in instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []

    for k in range(8):
        propose(instances[k % 4].outbox, k)
    all_pump()
    assert [r.method for r in _sent(slack)] == ["chat.postMessage"]  # one digest, whichever instance sent it
    assert represented(slack.requests) == {f"{k:032x}" for k in range(8)}
    for k in range(8, 12):
        propose(instances[k % 4].outbox, k)
    all_pump()
    assert len(_sent(slack)) == 1  # within the second
    clock.advance(1.0)
    all_pump()
    assert [r.method for r in _sent(slack)] == ["chat.postMessage", "chat.update"]  # the same digest, in place
    assert _sent(slack)[1].body["text"].startswith("12 declined payments")
    assert represented(slack.requests) == {f"{k:032x}" for k in range(12)}


def test_retry_after_holds_the_channel_for_every_instance(
        dbs: Callable[[], Database], slack: FakeSlack, zuora: tuple[ZuoraSandbox, ZuoraClient]) -> None:
    sandbox, client = zuora
    clock = Clock()
    a = Instance(dbs(), client, sandbox, slack, clock, "host-a:1:a")
    b = Instance(dbs(), client, sandbox, slack, clock, "host-b:1:b")
    propose = _proposer(sandbox, a, 2)
    slack.fail("chat.postMessage", "ratelimited", times=1, retry_after=5)
    propose(a.outbox, 0)
    a.notifier.pump()  # Slack: wait 5 s
    propose(b.outbox, 1)
    clock.advance(2)
    assert b.notifier.pump() == pytest.approx(3.0)  # b waits for what Slack told a
    assert len(slack.calls("chat.postMessage")) == 1
    clock.advance(3)
    b.notifier.pump()
    assert len(slack.calls("chat.postMessage")) == 2


def test_a_channel_held_by_a_process_killed_mid_send_is_free_at_once_for_the_next_on_its_host(
        dbs: Callable[[], Database]) -> None:
    slots = ChannelSlots(dbs())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    assert slots.take("C1", f"{host}:{gone.stdout.strip()}:abc", now=100.0, hold=60.0)  # killed while sending
    assert slots.take("C2", f"{host}:1:abc", now=100.0, hold=60.0)  # pid 1 runs: still sending
    assert slots.ready_in("C1", now=101.0) == 0.0 and slots.ready_in("C2", now=101.0) == 59.0
    slot = slots.take("C1", f"{host}:2:me", now=101.0, hold=60.0)
    assert slot is not None and slots.take("C2", f"{host}:2:me", now=101.0, hold=60.0) is None
    assert slots.give(slot, next_at=102.0) and slots.ready_in("C1", now=101.0) == 1.0


# -- the outbox lease and Slack's dedupe ------------------------------------------------------------


def test_the_outbox_lease_is_a_setting_and_another_instance_takes_a_dead_ones_rows_after_it(
        dbs: Callable[[], Database], tmp_path: Any) -> None:
    settings = load_settings(outbox_lease_seconds=45, database_path=tmp_path / "bot.db")
    services = build(settings)
    try:
        assert services.outbox.lease == timedelta(seconds=45)
    finally:
        services.close()
    clock = Clock()
    dead = Outbox(dbs(), now=clock.now, lease=timedelta(seconds=45), owner="host-a:1:a")
    alive = Outbox(dbs(), now=clock.now, lease=timedelta(seconds=45), owner="host-b:1:b")
    dead.add("callout", "k", {})
    assert [i.key for i in dead.claim(["callout"])] == ["k"]  # and then host-a died
    clock.advance(44)
    assert alive.claim(["callout"]) == []
    clock.advance(1)
    [item] = alive.claim(["callout"])
    assert item.key == "k" and item.attempts == 2


def test_an_instance_starting_hurries_card_backstops_only_when_it_is_alone(database: str, tmp_path: Any) -> None:
    """At start-up on SQLite (one process) a card row left by the previous process is due at once; on a shared
    database another instance's desk may be updating that card right now, so the row keeps its delay."""
    services = build(load_settings(database_path=tmp_path / "bot.db"))
    try:
        services.outbox.add("card", "card:p1:update:1", {"id": "p1"}, lane=COLLECT, delay=timedelta(seconds=30))
        services.start()
        assert services.outbox.due(["card"]) == (0 if database.startswith("postgresql") else 1)
    finally:
        services.close()


def test_slack_deliveries_and_triggers_are_taken_once_across_instances(dbs: Callable[[], Database]) -> None:
    logs = [EventLog(dbs()) for _ in range(4)]
    barrier = threading.Barrier(len(logs))
    firsts: list[str] = []
    lock = threading.Lock()

    def deliver(log: EventLog) -> None:
        barrier.wait()
        for n in range(20):
            for kind, first in (("event", log.first_delivery), ("trigger", log.first_trigger)):
                if first(f"{kind}-{n}"):
                    with lock:
                        firsts.append(f"{kind}-{n}")

    threads = [threading.Thread(target=deliver, args=(log,)) for log in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(firsts) == sorted(f"{kind}-{n}" for kind in ("event", "trigger") for n in range(20))
