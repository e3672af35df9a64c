"""Invoice schedules and ad hoc bill runs end to end over Slack: command → card → approve → one Zuora request
with the key → the bill run followed → the invoice posted → the card and its thread say the invoice number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlack, Recorded
from tests.slack_stack import Stack
from tests.test_slack_approvals import LEAD, REP, SETTINGS, click, pid, propose, text_of

pytestmark = pytest.mark.both_databases


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.groups["S0LEADS"] = [LEAD]
    yield fake
    fake.close()


@pytest.fixture
def stack(tmp_path: Path, slack: FakeSlack) -> Iterator[Stack]:
    s = Stack(tmp_path, slack, **SETTINGS)
    assert s.services.follower is not None
    s.services.follower.first = timedelta(milliseconds=50)  # the follow-up's waits, short for the test
    yield s
    s.close()


def updates_saying(slack: FakeSlack, text: str) -> list[Recorded]:
    return [r for r in slack.requests if r.method == "chat.update" and text in text_of(r)]


def test_schedules_are_listed_with_what_is_due(stack: Stack, slack: FakeSlack) -> None:
    stack.command("schedules A00000010", user=REP)
    answer = slack.wait_for(lambda rs: any(r.method == "/hooks/r1" for r in rs)) and slack.calls("/hooks/r1")[0]
    text = json.dumps(answer.body)
    for part in ("IS-00000001", "IS-00000003", "Kick-off", "4,800.00 USD (40%)", "overdue", "Milestone 2"):
        assert part in text, part


def test_a_schedule_item_is_run_followed_and_its_invoice_posted(stack: Stack, slack: FakeSlack) -> None:
    value, card = propose(stack, slack, "run schedule IS-00000003 the next item")
    text = text_of(card)
    for part in ("Bill IS-00000003 for A00000010 now", "What will be billed", "1. Deposit: 2,000.00 USD",
                 "<!subteam^S0LEADS> or <@U0CFO001>"):  # 2,000 USD: the middle tier
        assert part in text, part
    assert stack.sandbox.requests_to("/v1/invoice-schedules/*/execute", "POST") == []  # proposing writes nothing
    click(stack, "approval.approve", value, LEAD)
    slack.wait_for(lambda rs: bool(updates_saying(slack, ", Posted")), timeout=30)
    [execute] = stack.sandbox.requests_to("/v1/invoice-schedules/*/execute", "POST")
    assert execute.headers["idempotency-key"] == pid(value)
    item = stack.sandbox.tenant.find("invoice_schedules", "IS-00000003")["scheduleItems"][0]  # type: ignore[index]
    invoice = stack.sandbox.tenant.invoices[item["invoiceId"]]
    assert item["status"] == "Processed" and invoice["status"] == "Posted"
    final = text_of(updates_saying(slack, ", Posted")[-1])
    assert f"invoice {invoice['invoiceNumber']} for 2,000.00 USD, Posted" in final
    replies = slack.wait_for(lambda rs: any(r.method == "chat.postMessage" and r.body.get("thread_ts") and
                                            invoice["invoiceNumber"] in r.body.get("text", "") for r in rs))
    assert replies
    click(stack, "approval.approve", value, LEAD)  # a second click on the old card changes nothing
    assert len(stack.sandbox.requests_to("/v1/invoice-schedules/*/execute", "POST")) == 1


def test_an_ad_hoc_bill_run_is_followed_to_its_posted_invoice(stack: Stack, slack: FakeSlack) -> None:
    assert stack.command("subscribe billruns", user=LEAD).text.startswith("Subscribed")
    value, card = propose(stack, slack, "bill A00000010 on 2026-12-01")
    assert "Seats: 450.00 USD (15 × 30.00)" in text_of(card)
    click(stack, "approval.approve", value, LEAD)
    slack.wait_for(lambda rs: bool(updates_saying(slack, ", Posted")), timeout=30)
    [create] = stack.sandbox.requests_to("/v1/bill-runs", "POST")
    body = json.loads(create.body)
    assert create.headers["idempotency-key"] == pid(value) and body["targetDate"] == "2026-12-01"
    assert body["billRunFilters"][0]["accountId"] == stack.sandbox.tenant.find("accounts", "A00000010")["id"]  # type: ignore[index]
    assert "479.25 USD, Posted" in text_of(updates_saying(slack, ", Posted")[-1])  # Zuora's amount, with tax
    number = next(r for r in stack.sandbox.tenant.bill_runs.values() if r["name"].startswith("Slack ad hoc"))[
        "billRunNumber"]
    summaries = slack.wait_for(lambda rs: any(r.method == "chat.postMessage" and number in text_of(r) and
                                              not r.body.get("thread_ts") for r in rs), timeout=20)
    assert summaries  # bill-run subscribers get the usual summary for ad hoc runs too
