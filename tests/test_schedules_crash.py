"""`python -m bot serve` SIGKILLed while it follows a bill run it started, then restarted: it resumes following,
posts the invoice once and executes the schedule item once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox import ZuoraSandbox
from bot.sandbox.server import SandboxServer
from bot.storage import Database, open_db
from tests.fakes.slack_api import FakeSlack
from tests.test_crash_points import Serve, Watched, Zuora, propose, until

pytestmark = pytest.mark.both_databases

BILL_RUN_GET, EXECUTE = "/v1/bill-runs/*", "/v1/invoice-schedules/*/execute"


@pytest.fixture
def box() -> Iterator[Zuora]:
    release = threading.Event()
    sandbox = ZuoraSandbox(sleep=lambda seconds: release.wait(seconds))
    watched = Watched(sandbox)
    server = SandboxServer(watched, port=0).start()  # type: ignore[arg-type]
    yield Zuora(sandbox, watched, server.url, release)
    release.set()
    server.close()


@pytest.fixture
def db(database: str) -> Iterator[Database]:
    """The test's database, as the `serve` processes share it."""
    opened = open_db(database)
    yield opened
    opened.close()


def outcome(db: Database, proposal_id: str) -> str:
    row = db.execute("select outcome from proposals where id = ?", [proposal_id]).fetchone()
    return str(json.loads(row[0]).get("message")) if row and row[0] else ""


def test_killed_while_following_a_bill_run(tmp_path: Path, db: Database, box: Zuora, slack: FakeSlack) -> None:
    serve = Serve(tmp_path, box, slack)
    value = propose(serve, slack, "run schedule IS-00000003 the next item")
    proposal_id = value.split(":")[0]
    box.sandbox.inject(BILL_RUN_GET, method="GET", latency=60)  # the follow-up's first look hangs
    assert serve.click(value).status_code == 200
    until(lambda: box.sandbox.requests_to(BILL_RUN_GET, "GET"), "the follow-up to read the bill run")
    assert "following it to the invoice" in outcome(db, proposal_id)
    serve.kill()
    box.sandbox.clear_faults()
    restarted = Serve(tmp_path, box, slack)
    try:
        until(lambda: "Posted" in outcome(db, proposal_id), "the follow-up to resume and post", 60)
    finally:
        restarted.stop()
    item = box.sandbox.tenant.find("invoice_schedules", "IS-00000003")["scheduleItems"][0]  # type: ignore[index]
    invoice = box.sandbox.tenant.invoices[item["invoiceId"]]
    assert invoice["status"] == "Posted" and invoice["invoiceNumber"] in outcome(db, proposal_id)
    assert len(box.sandbox.requests_to(EXECUTE, "POST")) == 1
    assert len(box.sandbox.requests_to("/v1/invoices/*/post", "PUT")) == 1
