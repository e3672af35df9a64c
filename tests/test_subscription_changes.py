"""Subscription changes end to end over Slack against the sandbox: previews on the card, one order on approval,
the invoices Zuora (the sandbox) then bills match the previews to the cent; stale and re-preview rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.actions.kinds import SubscriptionChange
from tests.fakes.slack_api import FakeSlack
from tests.slack_stack import Stack
from tests.test_slack_approvals import APPROVER, SETTINGS, cards, click, pid, propose, text_of

pytestmark = pytest.mark.both_databases

ORDERS, PREVIEWS = "/v1/orders", "/v1/orders/preview"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.groups["S0LEADS"] = ["U0LEAD01"]
    yield fake
    fake.close()


def make(tmp_path: Path, slack: FakeSlack, **extra: Any) -> Stack:
    return Stack(tmp_path, slack, **{**SETTINGS, **extra})


@pytest.fixture
def stack(tmp_path: Path, slack: FakeSlack) -> Iterator[Stack]:
    s = make(tmp_path, slack)
    yield s
    s.close()


def proposal(stack: Stack, value: str) -> SubscriptionChange:
    record = stack.services.approvals.get(pid(value))
    assert record is not None and isinstance(record.proposal, SubscriptionChange)
    return record.proposal


def sub(stack: Stack, number: str) -> dict[str, Any]:
    found = stack.sandbox.tenant.find("subscriptions", number)
    assert found is not None
    return found


def approve_and_wait(stack: Stack, slack: FakeSlack, value: str) -> str:
    click(stack, "approval.approve", value, APPROVER)
    slack.wait_for(lambda rs: any(r.method == "chat.update" and ("Done:" in text_of(r) or "Not executed" in
                                                                   text_of(r) or "Failed" in text_of(r)) for r in rs),
                  timeout=30)
    return text_of(cards(slack)[-1])


def generate(stack: Stack, account: str, day: str) -> list[dict[str, Any]]:
    """Bill the account through `day` the way a bill run would (the sandbox's generate endpoint)."""
    body = stack.services.zuora.post(f"/v1/accounts/{account}/billing-documents/generate", {"targetDate": day})
    return [stack.sandbox.tenant.invoices[i["id"]] for i in body["invoices"]]


def orders(stack: Stack) -> list[Any]:
    return stack.sandbox.requests_to(ORDERS, "POST")


def test_upgrade_mid_period_card_approve_order_and_invoices_match_the_previews(stack: Stack,
                                                                               slack: FakeSlack) -> None:
    value, card = propose(stack, slack, "upgrade A-S00000002 to Business")
    text = text_of(card)
    for part in ("subscription change for Northwind Traders", "from Growth to Business", "Zuora's preview, both dates",
                 "Today (2026-11-20)", "Next period (2026-12-01)", "59.54 USD", "649.50 USD", "+150.00 USD",
                 "contract value this term +55.00 USD",
                 "Recommendation", "Due now (Zuora preview)", "A-S00000002 (version 2)"):
        assert part in text, part
    p = proposal(stack, value)
    assert p.chosen == "today" and p.option.due_now == Decimal("59.54")
    version = sub(stack, "A-S00000002")["version"]
    assert orders(stack) == []  # proposing only previews

    done = approve_and_wait(stack, slack, value)
    assert "Done: subscription change" in done and "Order O-" in done and f"version {version + 1}" in done
    [post] = orders(stack)
    assert post.headers.get("idempotency-key") == pid(value)
    actions = json.loads(post.body)["subscriptions"][0]["orderActions"]
    assert actions[1]["addProduct"]["chargeOverrides"][0]["pricing"]["recurringPerUnit"]["quantity"] == 15  # a number
    assert [t["name"] for t in actions[0]["triggerDates"]] == [
        "ContractEffective", "ServiceActivation", "CustomerAcceptance"]
    assert sub(stack, "A-S00000002")["version"] == version + 1
    billed = stack.sandbox.tenant.find("invoices", post_invoice(stack, value))
    assert billed is not None and billed["amount"] == p.option.due_now == Decimal("59.54")
    [december] = generate(stack, "A00000002", "2026-12-01")
    assert december["amount"] == p.option.next_invoice == Decimal("649.50")


def post_invoice(stack: Stack, value: str) -> str:
    record = stack.services.approvals.get(pid(value))
    assert record is not None and record.outcome is not None
    return str(record.outcome["zuora_ids"]["invoice_numbers"]).split(",")[0]


@pytest.mark.parametrize(("command", "account", "subscription", "chosen"), [
    ("downgrade A-S00000002 to Starter", "A00000002", "A-S00000002", "next period"),
    ("add 5 seats to A-S00000002", "A00000002", "A-S00000002", "today"),
    ("remove the SMS add-on from A-S00000017 at renewal", "A00000017", "A-S00000017", "renewal (next period)"),
])
def test_other_changes_bill_what_the_preview_showed(stack: Stack, slack: FakeSlack, command: str, account: str,
                                                    subscription: str, chosen: str) -> None:
    value, card = propose(stack, slack, command)
    p = proposal(stack, value)
    assert p.chosen == chosen, p.recommendation
    version = sub(stack, subscription)["version"]
    done = approve_and_wait(stack, slack, value)
    assert "Done: subscription change" in done, done
    assert len(orders(stack)) == 1 and sub(stack, subscription)["version"] == version + 1
    record = stack.services.approvals.get(pid(value))
    assert record is not None and record.outcome is not None
    invoices = [n for n in str(record.outcome["zuora_ids"]["invoice_numbers"]).split(",") if n]
    if p.option.due_now:
        billed = stack.sandbox.tenant.find("invoices", invoices[0])
        assert billed is not None and billed["amount"] == p.option.due_now
    else:
        assert invoices == []
    [next_invoice] = generate(stack, account, p.option.next_date.isoformat())
    assert next_invoice["amount"] == p.option.next_invoice


def test_a_subscription_changed_after_the_card_is_stale_and_no_order_is_sent(stack: Stack,
                                                                              slack: FakeSlack) -> None:
    value, _ = propose(stack, slack, "upgrade A-S00000002 to Business")
    sub(stack, "A-S00000002")["version"] += 1  # someone amended it in Zuora meanwhile
    done = approve_and_wait(stack, slack, value)
    assert "Not executed" in done and "subscription version" in done
    assert orders(stack) == []


def test_a_preview_older_than_the_ttl_is_redone_and_moved_numbers_make_it_stale(tmp_path: Path,
                                                                                slack: FakeSlack) -> None:
    stack = make(tmp_path, slack, preview_ttl_minutes=0)
    try:
        value, _ = propose(stack, slack, "upgrade A-S00000002 to Business")
        assert len(stack.sandbox.requests_to(PREVIEWS, "POST")) == 2  # today and next period
        plan = next(p for product in stack.sandbox.tenant.products.values() for p in product["productRatePlans"]
                    if p["name"] == "Business")
        plan["charges"][0]["prices"]["USD"] = Decimal(45)  # the catalog price moved after the card
        done = approve_and_wait(stack, slack, value)
        assert len(stack.sandbox.requests_to(PREVIEWS, "POST")) == 3
        assert "Not executed" in done and "Zuora's preview moved" in done
        assert orders(stack) == []
    finally:
        stack.close()


def test_a_fresh_preview_is_not_redone(stack: Stack, slack: FakeSlack) -> None:
    value, _ = propose(stack, slack, "add 5 seats to A-S00000002")
    done = approve_and_wait(stack, slack, value)
    assert "Done" in done and len(stack.sandbox.requests_to(PREVIEWS, "POST")) == 2 and len(orders(stack)) == 1


@pytest.mark.parametrize(("command", "reply"), [
    ("upgrade A-S00000002 to Platinum", "no plan called"),
    ("upgrade A-S00000002 to Business EU", "priced in EUR"),
    ("remove 15 seats from A-S00000002", "whole number above 0"),
    ("set 0 seats on A-S00000002", "whole number above 0"),
    ("upgrade A-S00000999 to Business", "couldn't find subscription"),
])
def test_bad_requests_get_a_clear_reply_and_nothing_is_proposed(stack: Stack, slack: FakeSlack, command: str,
                                                                reply: str) -> None:
    stack.command(command)
    answer = slack.wait_for(lambda rs: any(r.method.startswith("/hooks/r") for r in rs), timeout=30) and \
        [r for r in slack.requests if r.method.startswith("/hooks/r")][0]
    assert reply in answer.body.get("text", "") + str(answer.body.get("blocks", "")), answer.body
    assert stack.services.approvals.pending() == []
    assert orders(stack) == []


def test_a_cancelled_subscription_cannot_be_changed(stack: Stack, slack: FakeSlack) -> None:
    sub(stack, "A-S00000002")["status"] = "Cancelled"
    stack.command("upgrade A-S00000002 to Business")
    answer = slack.wait_for(lambda rs: any(r.method.startswith("/hooks/r") for r in rs), timeout=30) and \
        [r for r in slack.requests if r.method.startswith("/hooks/r")][0]
    assert "is Cancelled" in answer.body.get("text", "") + str(answer.body.get("blocks", ""))
    assert stack.services.approvals.pending() == []


def test_retention_offer_previewed_approved_and_billed_as_previewed(stack: Stack, slack: FakeSlack) -> None:
    value, card = propose(stack, slack, "offer A-S00000010 20% for 3 months")
    text = text_of(card)
    for part in ("retention offer for Wayne Enterprises", "20% off recurring charges for 3 billing periods",
                 "Retention discount", "off per period", "Next period (2026-12-01)"):
        assert part in text, part
    p = proposal(stack, value)
    assert p.kind == "retention_offer" and p.chosen == "next period" and p.option.mrr_delta < 0
    done = approve_and_wait(stack, slack, value)
    assert "Done: retention offer" in done
    [post] = orders(stack)
    assert post.headers.get("idempotency-key") == pid(value)
    override = json.loads(post.body)["subscriptions"][0]["orderActions"][0]["addProduct"]["chargeOverrides"][0]
    assert override["pricing"]["discount"]["discountPercentage"] == 20
    assert override["endDate"] == {"endDateCondition": "Fixed_Period", "upToPeriods": 3,
                                   "upToPeriodsType": "Billing_Periods"}
    months = [generate(stack, "A00000010", day) for day in ("2026-12-01", "2027-01-01", "2027-02-01", "2027-03-01")]
    assert months[0][0]["amount"] == p.option.next_invoice
    discounted = [any(stack.sandbox.tenant.items[i]["processingType"] == "Discount"
                      for i in stack.sandbox.tenant.items_of[m[0]["id"]]) for m in months]
    assert discounted == [True, True, True, False]  # three billing periods, then the full price again


@pytest.mark.parametrize(("command", "reply"), [
    ("offer A-S00000010 40% for 3 months", "above the largest retention discount allowed (30%"),
    ("offer A-S00000010 20% for 40 months", "1 to 12 billing periods"),
    ("offer A-S00000010 for 3 months", "How much of a discount"),
])
def test_bad_offers_get_a_clear_reply_and_nothing_is_proposed(stack: Stack, slack: FakeSlack, command: str,
                                                              reply: str) -> None:
    stack.command(command)
    answer = slack.wait_for(lambda rs: any(r.method.startswith("/hooks/r") for r in rs), timeout=30) and \
        [r for r in slack.requests if r.method.startswith("/hooks/r")][0]
    assert reply in answer.body.get("text", "") + str(answer.body.get("blocks", "")), answer.body
    assert stack.services.approvals.pending() == [] and orders(stack) == []


def test_an_expired_preview_redone_with_the_same_numbers_runs(tmp_path: Path, slack: FakeSlack) -> None:
    stack = make(tmp_path, slack, preview_ttl_minutes=0)
    try:
        value, _ = propose(stack, slack, "add 5 seats to A-S00000002")
        done = approve_and_wait(stack, slack, value)
        assert "Done: subscription change" in done
        assert len(stack.sandbox.requests_to(PREVIEWS, "POST")) == 3 and len(orders(stack)) == 1
    finally:
        stack.close()


def test_after_a_crash_the_order_is_found_by_the_proposal_id(stack: Stack, slack: FakeSlack) -> None:
    value, _ = propose(stack, slack, "upgrade A-S00000002 to Business")
    p = proposal(stack, value)
    client = stack.services.zuora
    assert p.find(client, pid(value)) is None  # nothing placed yet: safe to send
    request = p.request(stack.sandbox.tenant.today, ref=pid(value))
    client.post(request.path, request.body, idempotency_key=pid(value))  # it landed, the answer was lost
    found = p.find(client, pid(value))
    assert found is not None and found.status == "succeeded" and (found.document or "").startswith("O-")


def test_zuora_text_on_the_card_is_escaped(stack: Stack, slack: FakeSlack) -> None:
    sub(stack, "A-S00000002")["ratePlans"][0]["name"] = "Growth <!channel> <https://evil.example|click>"
    plan = next(p for product in stack.sandbox.tenant.products.values() for p in product["productRatePlans"]
                if p["name"] == "Growth")
    plan["name"] = "Growth <!channel> <https://evil.example|click>"  # the catalog and the subscription agree
    _, card = propose(stack, slack, "upgrade A-S00000002 to Business")
    text = text_of(card)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text


def test_a_card_from_an_earlier_day_is_stale_rather_than_backdated(stack: Stack, slack: FakeSlack) -> None:
    value, _ = propose(stack, slack, "upgrade A-S00000002 to Business")
    stack.sandbox.tenant.today = date(2026, 11, 21)  # approved the next day
    done = approve_and_wait(stack, slack, value)
    assert "Not executed" in done and "previewed for 2026-11-20, today is 2026-11-21" in done
    assert orders(stack) == []
