"""Bill-run summaries: the streaming pairing and summary (pure), and DMs end to end (callout and poller)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.app import poller
from bot.billruns.summary import InvoiceRow, Summarizer, pair_with_previous
from tests.fakes.slack_api import FakeSlack, Recorded
from tests.slack_stack import CALLOUT_PASSWORD, CALLOUT_USER, Stack, callout

pytestmark = pytest.mark.both_databases


def row(account: str, amount: str, number: str = "INV", day: int = 1, currency: str = "USD") -> InvoiceRow:
    return InvoiceRow(invoice_number=f"{number}-{account}-{day}", account_id=account, account_number=account,
                      account_name=f"Name {account}", amount=Decimal(amount), currency=currency,
                      invoice_date=date(2026, 10, day))


def test_pairing_walks_both_runs_once_by_account() -> None:
    previous = [row("a", "10", day=1), row("a", "12", day=15), row("c", "30"), row("d", "40")]
    current = [row("a", "20"), row("a", "5", day=2), row("b", "7"), row("c", "25"), row("e", "1")]
    seen: list[str] = []
    pairs = list(pair_with_previous(current, previous, lambda r: seen.append(r.account_id)))
    assert [(r.account_id, p) for r, p in pairs] == [("a", Decimal("12")), ("a", Decimal("12")), ("b", None),
                                                     ("c", Decimal("30")), ("e", None)]
    assert seen == ["a", "a", "c", "d"]  # every previous invoice counted once, including d's after the end


def test_summarizer_keeps_only_the_top_increases_and_a_few_examples() -> None:
    s = Summarizer(top=3, examples=2)
    for n in range(1000):
        s.add(row(f"{n:04d}", str(n), number="I"), Decimal(0) if n % 2 else None, first=n % 2 == 0)
    assert s.invoices == 1000 and s.accounts == 1000 and s.totals == {"USD": Decimal(499500)}
    assert [i.increase for i in s.increases()] == [Decimal(999), Decimal(997), Decimal(995)]
    assert s.zero_amount == 1 and s.first_invoices == 500 and len(s.first_examples) == 2
    assert len(s._heap) == 3


SETTINGS = {"zuora_callout_username": CALLOUT_USER, "zuora_callout_password": CALLOUT_PASSWORD}


@pytest.fixture
def stack(tmp_path: Path, slack: FakeSlack) -> Iterator[Stack]:
    s = Stack(tmp_path, slack, **SETTINGS)
    yield s
    s.close()


def dms(requests: list[Recorded]) -> list[Recorded]:
    return [r for r in requests if r.method == "chat.postMessage" and str(r.body.get("channel")).startswith("D")
            and not r.body.get("thread_ts")]  # summaries, not replies in their threads


def subscribe(stack: Stack, *users: str) -> None:
    for user in users:
        response = stack.command("subscribe billruns", user=user)
        assert response.status_code == 200 and response.text.startswith("Subscribed: you will get a DM")


def test_a_completed_bill_run_is_dmed_once_to_each_subscriber(stack: Stack, slack: FakeSlack) -> None:
    subscribe(stack, "U0OPS001", "U0OPS002")
    assert stack.command("subscribe billruns", user="U0OPS001").text.startswith("You are already subscribed")
    run = stack.sandbox.tenant.find("bill_runs", "BR-00000012")
    assert run is not None
    body = {"event": "BillRunCompletion", "BillRunId": run["id"], "BillRunNumber": "BR-00000012",
            "Status": "Completed", "NumberOfInvoices": "70"}
    for n in range(3):
        assert callout(stack, body, notification_id=f"br-{n % 2}").status_code == 200
    slack.wait_for(lambda rs: len(dms(rs)) >= 2)
    time.sleep(0.3)
    sent = dms(slack.requests)
    assert sorted(r.body["channel"] for r in sent) == ["D0OPS001", "D0OPS002"]
    text = json.dumps(sent[0].body["blocks"], ensure_ascii=False)
    assert sent[0].body["text"].startswith("Bill run BR-00000012 completed (target 2026-11-01): 70 invoices")
    for part in ("*70* invoices for *70* accounts", "69,251.74 USD", "+11,802.93 USD, +20.5 %", "+5 invoices vs "
                 "BR-00000011", "INV00000455", "530.75 USD → 8,786.25 USD", "(16.6×)", "1 zero-amount invoice:",
                 "5 first invoices:"):
        assert part in text, part
    explain = [b["accessory"] for b in sent[0].body["blocks"] if b.get("accessory", {}).get("action_id") ==
               "billrun.explain"]
    assert explain[0]["value"] == "INV00000455"

    stack.action("billrun.explain", "INV00000455", user="U0OPS001", channel="D0OPS001",
                 message={"ts": "1790003000.000100"})
    def replies(rs: list[Recorded]) -> list[Recorded]:
        return [r for r in rs if r.method == "chat.postMessage" and r.body.get("thread_ts") == "1790003000.000100"]

    # in the DM (the app's Messages tab) the thread's status chip shows the work, then the answer is posted there
    [reply] = replies(slack.wait_for(lambda rs: bool(replies(rs))))
    assert slack.calls("assistant.threads.setStatus")[0].body["thread_ts"] == "1790003000.000100"
    assert reply.body["channel"] == "D0OPS001" and reply.body["blocks"][0]["text"]["text"].startswith(
        "INV00000455 vs ")

    found = poller(stack.services).once(since=datetime(2026, 10, 25))  # a callout-less pass finds it: no new DM
    time.sleep(0.3)
    assert len(dms(slack.requests)) == 2 and not any("BillRunCompletion" in f for f in found)


def test_the_poller_finds_a_bill_run_the_callouts_missed_once(stack: Stack, slack: FakeSlack) -> None:
    subscribe(stack, "U0OPS001")
    poll = poller(stack.services)
    first = poll.once(since=datetime(2026, 10, 25))
    assert [line.split(":")[0] for line in first if line.startswith("BillRunCompletion")] == ["BillRunCompletion"]
    assert "summary sent to 1 subscriber(s)" in " ".join(first)
    assert poll.once() == []  # the mark moved on
    assert poll.once(since=datetime(2026, 10, 25)) == []  # and the inbox remembers
    assert len(dms(slack.requests)) == 1


def test_subscriptions_from_the_command_and_app_home(stack: Stack, slack: FakeSlack) -> None:
    assert stack.command("unsubscribe billruns", user="U0OPS001").text == "You were not subscribed to bill-run " \
                                                                          "summaries."
    stack.action("billrun.subscribe", "billruns", user="U0OPS001")
    view = slack.wait_for(lambda rs: any(r.method == "views.publish" for r in rs)) and slack.calls("views.publish")[0]
    assert "You get a DM after each completed bill run." in json.dumps(view.body["view"])
    assert stack.services.subscribers.all() == ["U0OPS001"]
    assert stack.command("unsubscribe billruns", user="U0OPS001").text.startswith("You will no longer get")
    assert stack.services.subscribers.all() == []
