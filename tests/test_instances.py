"""Three `python -m bot serve` processes on one PostgreSQL schema, requests spread across them (PostgreSQL only).

Zuora is the sandbox in a process of its own (it counts the writes), Slack is the fake Web API in
this process (it records every post), clicks and commands are signed like Slack's, callouts are
sent like Zuora's (`tests/processes.py`).

| case                                   | holds when                                                              |
|----------------------------------------|-------------------------------------------------------------------------|
| 50 Approve clicks at once on one card  | one Zuora write (sweeps every second meanwhile); the card says Done     |
| 300 declined-payment callouts          | each taken and worked once; each proposal on exactly one card or digest |
| SIGKILL of an instance holding work    | the others take its outbox rows after the lease and finish them         |
| three instances start on an empty one  | each migration recorded once, all three serve                           |

Without `TEST_DATABASE_URL` the module is not run (the run's summary says so in one line).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.slack_api import FakeSlack, Recorded
from tests.processes import COLLECT, Instance, SandboxProcess, until

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)

MEMO_POST = "/v1/credit-memos/invoice/*"
SETTINGS = {"DATABASE_POOL_SIZE": "6"}
WORKERS = 8
"""Callouts one `serve` works at a time (its outbox worker pool, `bot.app.Services.start`)."""


def rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


class Cluster:
    """The sandbox process and the `serve` processes of one test; `close()` ends every one of them."""

    def __init__(self, tmp_path: Path, slack: FakeSlack, url: str) -> None:
        self.tmp_path, self.slack, self.url = tmp_path, slack, url
        self.zuora: SandboxProcess | None = None
        self.instances: list[Instance] = []

    def sandbox(self, **options: Any) -> SandboxProcess:
        self.zuora = SandboxProcess(**options)
        return self.zuora

    def start(self, count: int, **env: str) -> list[Instance]:
        """`count` instances started together (on the test's schema), returned once each answers /healthz."""
        assert self.zuora is not None
        first = len(self.instances)
        started = [Instance(chr(ord("a") + first + n), self.zuora, self.slack, self.tmp_path,
                            DATABASE_URL=self.url, **{**SETTINGS, **env}) for n in range(count)]
        self.instances += started
        return [instance.wait_up() for instance in started]

    def logs(self) -> str:
        return "\n".join(f"--- serve {i.name} (pid {i.pid}) ---\n{i.output()[-4000:]}" for i in self.instances)

    def close(self) -> None:
        for instance in self.instances:
            instance.stop(timeout=30)
        if self.zuora is not None:
            self.zuora.close()


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path, slack: FakeSlack, database: str) -> Iterator[Cluster]:
    made = Cluster(tmp_path, slack, database)
    try:
        yield made
    finally:
        failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
        if failed:
            print(made.logs())
        made.close()


def spread(instances: list[Instance], n: int) -> Instance:
    return instances[n % len(instances)]


def approval_ids(requests: list[Recorded], methods: tuple[str, ...] = ("chat.postMessage",)) -> list[str]:
    """Proposal ids on the collections channel's messages, once per message carrying each (cards and digest rows)."""
    return [str(b["block_id"]).removeprefix("approval:") for r in requests
            if r.method in methods and r.body.get("channel") == COLLECT
            for b in r.body.get("blocks") or [] if str(b.get("block_id", "")).startswith("approval:")]


def on_cards(slack: FakeSlack) -> dict[str, list[str]]:
    """What people see in the collections channel: proposal id → the messages (ts) that show it."""
    shown: dict[str, list[str]] = {}
    with slack._lock:
        messages = list(slack.workspace.messages.get(COLLECT, []))
    for message in messages:
        for block in message["blocks"]:
            if str(block.get("block_id", "")).startswith("approval:"):
                shown.setdefault(str(block["block_id"]).removeprefix("approval:"), []).append(message["ts"])
    return shown


def owners(url: str) -> dict[str, int]:
    """Rows leased per owner (`host:pid:random`), pending rows only."""
    return dict(rows(url, "select lease_owner, count(*) from outbox where status = 'pending' and lease_owner is not "
                          "null group by lease_owner"))


# -- 50 concurrent Approve clicks ----------------------------------------------------------------------------


def test_fifty_approve_clicks_across_three_instances_write_to_zuora_once(cluster: Cluster, slack: FakeSlack,
                                                                         database: str) -> None:
    zuora = cluster.sandbox()
    instances = cluster.start(3, APPROVAL_SWEEP_SECONDS="1")  # every instance sweeps while the approval runs
    assert instances[0].command('credit INV-448 50 "goodwill"', hook="propose").status_code == 200
    card = until(lambda: next((r for r in slack.calls("chat.postMessage") if approval_ids([r])), None),
                 "the approval card", 60)
    approve = next(e["value"] for b in card.body["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == "approval.approve")
    proposal_id = approve.split(":")[0]
    card_ts = until(lambda: rows(database, "select message_ts from proposals where id = %s", (proposal_id,))[0][0],
                    "the card's ts recorded", 60)
    zuora.inject(MEMO_POST, method="POST", latency=3)  # the write is in flight for a while

    go = threading.Barrier(50)

    def click(n: int) -> int:
        go.wait(30)
        return spread(instances, n).click(approve, trigger=f"click-{n}", message_ts=card_ts).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(click, range(50)))
    assert statuses == [200] * 50
    until(lambda: rows(database, "select status from proposals where id = %s", (proposal_id,)) == [("succeeded",)],
          "the proposal to succeed", 120)

    def card_done() -> bool:
        shown = slack.find(COLLECT, card_ts)
        return shown is not None and shown["text"].startswith("Done")

    until(card_done, "the card to say Done", 120)
    assert zuora.count(MEMO_POST, "POST") == 1  # one Zuora write for fifty clicks on three instances
    shown = slack.find(COLLECT, card_ts)
    assert shown is not None
    assert not [e for b in shown["blocks"] if b["type"] == "actions" for e in b.get("elements", [])
                if e.get("action_id") == "approval.approve"]  # no live Approve button left
    audit = rows(database, "select action, outcome from audit_log where proposal_id = %s", (proposal_id,))
    assert [a for a, _ in audit].count("executing") == 1, audit  # one claim
    assert [o for _, o in audit].count("succeeded") == 1, audit


# -- 300 callouts ----------------------------------------------------------------------------------------------


def test_three_hundred_callouts_across_three_instances_are_each_handled_and_posted_once(
        cluster: Cluster, slack: FakeSlack, database: str) -> None:
    zuora = cluster.sandbox(declines=300)
    instances = cluster.start(3)
    bodies = zuora.bodies

    def send(n: int) -> int:
        return spread(instances, n).callout(bodies[n], f"burst-{n}").status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(300)))
    assert statuses == [200] * 300
    # Zuora retries a few (a lost answer): the retry may reach another instance, and is a duplicate there
    retried = [spread(instances, n + 1).callout(bodies[n], f"burst-{n}").json() for n in range(0, 300, 50)]
    assert retried == [{"success": True, "duplicate": True}] * 6

    until(lambda: rows(database, "select count(*) from callouts where status = 'done'") == [(300,)],
          "300 callouts handled", 300, every=0.5)
    until(lambda: rows(database, "select count(*) from proposals where message_ts is null") == [(0,)]
          and not rows(database, "select 1 from outbox where status = 'pending' and topic = 'propose'"),
          "every proposal on a card or digest row", 300, every=0.5)

    assert rows(database, "select status, count(*) from callouts group by status") == [("done", 300)]
    proposals = {r[0] for r in rows(database, "select id from proposals")}
    assert len(proposals) == 300
    posted = approval_ids(slack.requests)
    assert len(posted) == len(set(posted))  # no proposal in two posts
    assert set(approval_ids(slack.requests, ("chat.postMessage", "chat.update"))) == proposals
    shown = on_cards(slack)
    assert set(shown) == proposals and all(len(ts) == 1 for ts in shown.values())  # each on exactly one message
    text = json.dumps([m["blocks"] for m in slack.workspace.messages.get(COLLECT, [])])
    assert [b["AccountNumber"] for b in bodies if f"({b['AccountNumber']})" not in text] == []
    work = rows(database, "select topic, attempts, count(*) from outbox group by topic, attempts "
                          "order by topic, attempts")
    assert work == [("callout", 1, 300), ("propose", 1, 300)], work  # each worked once, by one claim
    for instance in instances:
        assert instance.stop() == 0, instance.output()[-3000:]


# -- SIGKILL in mid-work ---------------------------------------------------------------------------------------


def test_an_instance_killed_in_mid_work_has_its_outbox_finished_by_the_others(
        cluster: Cluster, slack: FakeSlack, database: str) -> None:
    zuora = cluster.sandbox(declines=20)
    bodies = zuora.bodies
    lease = {"OUTBOX_LEASE_SECONDS": "30"}  # a dead instance's rows are taken after this
    zuora.inject("/v1/payments/*", method="GET", latency=120)  # the first read of each decline hangs
    [doomed] = cluster.start(1, **lease)
    for n, body in enumerate(bodies):
        assert doomed.callout(body, f"kill-{n}").status_code == 200
    until(lambda: sum(c for o, c in owners(database).items() if f":{doomed.pid}:" in o) >= WORKERS and
          zuora.count("/v1/payments/*", "GET") >= WORKERS, "the instance in mid-work (each worker waiting on Zuora)",
          60)
    zuora.clear()  # Zuora is quick again for everyone else
    others = cluster.start(2, **lease)  # the doomed one is alive: its leases are not touched at their start
    held = {r[0] for r in rows(database, "select key from outbox where status = 'pending' and lease_owner like %s",
                               (f"%:{doomed.pid}:%",))}
    assert len(held) == WORKERS, held
    doomed.kill()

    until(lambda: rows(database, "select count(*) from callouts where status = 'done'") == [(len(bodies),)],
          "every callout handled, the killed instance's too", 180, every=0.5)
    until(lambda: rows(database, "select count(*) from proposals where message_ts is null") == [(0,)]
          and rows(database, "select count(*) from proposals") == [(len(bodies),)],
          "every proposal on a card or digest row", 180, every=0.5)
    finished = rows(database, "select key, status, attempts from outbox where key = any(%s)", (list(held),))
    assert sorted((s, a) for _, s, a in finished) == [("done", 2)] * WORKERS  # taken once more after the lease
    assert rows(database, "select status, count(*) from callouts group by status") == [("done", len(bodies))]
    proposals = {r[0] for r in rows(database, "select id from proposals")}
    posted = approval_ids(slack.requests)
    assert len(posted) == len(set(posted))  # no proposal in two posts
    shown = on_cards(slack)
    assert set(shown) == proposals and all(len(ts) == 1 for ts in shown.values())  # each on exactly one message
    for instance in others:
        assert instance.stop() == 0, instance.output()[-3000:]


# -- three instances start together -----------------------------------------------------------------------------


def test_three_instances_starting_together_apply_each_migration_once(cluster: Cluster, database: str) -> None:
    from bot.storage import MIGRATIONS

    assert rows(database, "select count(*) from information_schema.tables where table_schema = current_schema()") \
        == [(0,)]  # an empty schema
    cluster.sandbox()
    instances = cluster.start(3)  # started at once, each migrating at start-up
    applied = rows(database, "select name from _migrations order by name")
    assert [name for (name,) in applied] == [fn.__name__ for fn in MIGRATIONS]
    for instance in instances:
        assert instance.up()
        assert "Traceback" not in instance.output()
    for instance in instances:
        assert instance.stop() == 0, instance.output()[-3000:]
