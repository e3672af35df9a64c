"""Zuora callouts over HTTP: authentication, bodies, deduplication, and the dunning cards they lead to."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.sandbox import ZuoraSandbox
from bot.sandbox.payments import record_payment
from bot.webhooks.callouts import CalloutError, authenticate, parse
from bot.webhooks.inbox import Inbox
from tests.fakes.slack_api import FakeSlack, Recorded
from tests.slack_stack import CALLOUT_PASSWORD, CALLOUT_USER, Stack, callout

pytestmark = pytest.mark.both_databases

COLLECT = "C0COLLECT"
SETTINGS = {"approvers": "U0APPROVER,U0LEAD01", "collections_channel": COLLECT,
            "zuora_callout_username": CALLOUT_USER, "zuora_callout_password": CALLOUT_PASSWORD}


@pytest.fixture
def stack(tmp_path: Path, slack: FakeSlack) -> Iterator[Stack]:
    s = Stack(tmp_path, slack, **SETTINGS)
    yield s
    s.close()


def declined(sandbox: ZuoraSandbox, account_number: str, code: tuple[str, str] = ("05", "Do not honor")) -> dict:
    account = sandbox.tenant.find("accounts", account_number)
    assert account is not None
    errors = [p for p in sandbox.tenant.payments.values() if p["accountId"] == account["id"] and p["status"] == "Error"]
    payment = errors[-1] if errors and account_number != "A00000007" else record_payment(
        sandbox.tenant, account, [], Decimal("500.00"), sandbox.tenant.today, "Electronic",
        account.get("defaultPaymentMethodId"), decline=code)
    return {"event": "PaymentDeclined", "PaymentId": payment["id"], "PaymentNumber": payment["number"],
            "AccountId": account["id"], "AccountNumber": account_number, "AccountName": account["name"],
            "Amount": f"${payment['amount']:,}", "ErrorMessage": payment.get("gatewayResponse") or "",
            "GatewayResponseCode": payment.get("gatewayResponseCode") or ""}


def owing(sandbox: ZuoraSandbox, count: int) -> list[str]:
    """`count` card-paying accounts, each with its latest invoice left unpaid (set up in the fake Zuora)."""
    tenant = sandbox.tenant
    out = []
    for account in sorted(tenant.accounts.values(), key=lambda a: a["accountNumber"]):
        invoices = [tenant.invoices[i] for i in tenant.invoices_of[account["id"]]]
        if not account.get("defaultPaymentMethodId") or not invoices or account["accountNumber"] == "A00000007":
            continue
        latest = max(invoices, key=lambda i: i["invoiceDate"])
        if latest["amount"] <= 0:
            continue
        latest["balance"] = latest["amount"]
        out.append(account["accountNumber"])
        if len(out) == count:
            break
    return out


def cards_in(slack: FakeSlack, channel: str = COLLECT) -> list[Recorded]:
    return [r for r in slack.requests if r.method == "chat.postMessage" and r.body.get("channel") == channel]


def wait_cards(slack: FakeSlack, n: int) -> list[Recorded]:
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.postMessage"
                                   and r.body.get("channel") == COLLECT]) >= n, timeout=15)
    return cards_in(slack)


def inbox_status(stack: Stack, key: str) -> tuple[str, str] | None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = Inbox(stack.services.db).status(key)
        if status and status[0] != "taken":
            return status
        time.sleep(0.02)
    return Inbox(stack.services.db).status(key)


@pytest.mark.parametrize(("account", "header"), [
    ("A00000003", "Approval needed: payment retry"),
    ("A00000004", "Approval needed: reminder email"),
    ("A00000005", "Approval needed: reminder email"),
    ("A00000007", "Approval needed: collections escalation"),
])
def test_a_declined_payment_becomes_one_card_of_the_right_kind(stack: Stack, slack: FakeSlack, account: str,
                                                               header: str) -> None:
    response = callout(stack, declined(stack.sandbox, account), notification_id="n-1")
    assert response.status_code == 200 and response.json() == {"success": True}
    [card] = wait_cards(slack, 1)
    text = json.dumps(card.body["blocks"], ensure_ascii=False)
    assert card.body["blocks"][0]["text"]["text"].startswith(header)
    assert "Zuora (declined-payment callout)" in text and "Dunning rule:" in text


def test_the_same_callout_five_times_and_out_of_order_makes_one_card(stack: Stack, slack: FakeSlack) -> None:
    body = declined(stack.sandbox, "A00000003")
    replies = [callout(stack, body, notification_id="n-same").json() for _ in range(3)]
    replies += [callout(stack, body, notification_id=f"n-other-{i}").json() for i in range(2)]  # another notification
    assert replies[0] == {"success": True} and all(r == {"success": True, "duplicate": True} for r in replies[1:])
    older = dict(body, PaymentId="P-00000260", PaymentNumber="P-00000260")  # August's decline arrives late
    callout(stack, older, notification_id="n-late")
    wait_cards(slack, 1)
    time.sleep(1.5)  # past the batching window
    assert len(cards_in(slack)) == 1
    detail = (inbox_status(stack, "PaymentDeclined:P-00000260") or ("", ""))[1]
    assert "already waiting for approval" in detail or "already queued" in detail, detail


def test_credentials_bodies_and_payments_that_are_fine(stack: Stack, slack: FakeSlack) -> None:
    body = declined(stack.sandbox, "A00000004")
    assert callout(stack, body, auth=None).status_code == 401
    wrong = callout(stack, body, auth=(CALLOUT_USER, "nope"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == 'Basic realm="billing-copilot"'
    for garbage, kind in (("{not json", "application/json"), ("[1, 2]", "application/json"), ("", "text/plain"),
                          ('{"event": "Refund", "PaymentId": "x"}', "application/json"),
                          ('{"event": "PaymentDeclined"}', "application/json"),
                          ("PaymentId=%27%3B+drop+table", "application/x-www-form-urlencoded")):
        response = callout(stack, garbage, content_type=kind)
        assert response.status_code == 400 and response.json()["success"] is False, garbage
    assert Inbox(stack.services.db).status("PaymentDeclined:" + body["PaymentId"]) is None  # nothing stored
    fine = callout(stack, "event=PaymentDeclined&PaymentId=P-00000314",
                   content_type="application/x-www-form-urlencoded")
    assert fine.status_code == 200
    status = inbox_status(stack, "PaymentDeclined:P-00000314")
    assert status == ("done", "Payment P-00000314 is Processed in Zuora now; nothing to do.")
    time.sleep(1.2)
    assert cards_in(slack) == []


def represented(requests: list[Recorded], channel: str = COLLECT) -> set[str]:
    """Proposal ids on some card or digest row in `channel` (posted, or added by an update)."""
    return {b["block_id"].removeprefix("approval:") for r in requests
            if r.method in ("chat.postMessage", "chat.update") and r.body.get("channel") == channel
            for b in r.body.get("blocks") or [] if str(b.get("block_id", "")).startswith("approval:")}


def test_forty_declines_at_once_make_a_card_and_a_digest(stack: Stack, slack: FakeSlack) -> None:
    numbers = owing(stack.sandbox, 40)
    assert len(numbers) == 40
    for n, number in enumerate(numbers):
        assert callout(stack, declined(stack.sandbox, number, ("51", "Insufficient funds")),
                       notification_id=f"burst-{n}").status_code == 200
    slack.wait_for(lambda rs: len(represented(rs)) >= 40, timeout=30)
    posts = cards_in(slack)
    assert len(posts) <= 2, [p.body.get("text") for p in posts]  # perhaps the first alone, the rest folded
    digest = ([u.body for u in slack.calls("chat.update")] or [posts[-1].body])[-1]
    rows = [b for b in digest["blocks"] if b["type"] == "section"]
    assert digest["text"].startswith(f"{len(rows)} declined payments") and len(rows) in (39, 40)
    assert all(r["accessory"]["action_id"] == "approval.row" for r in rows)
    assert len(represented(slack.requests)) == 40


def test_a_digest_row_is_approved_from_its_menu(stack: Stack, slack: FakeSlack) -> None:
    tenant = stack.sandbox.tenant
    owing(stack.sandbox, 8)
    for n, number in enumerate(("A00000003", "A00000004", "A00000005", "A00000007", "A00000006")):
        callout(stack, declined(stack.sandbox, number), notification_id=f"d-{n}")
    slack.wait_for(lambda rs: len(represented(rs)) >= 5, timeout=20)
    digest = [r for r in slack.requests if r.method in ("chat.postMessage", "chat.update")
              and "declined payments" in r.body.get("text", "")][-1]  # the first got a card, the rest a digest
    row = next(b for b in digest.body["blocks"] if b["type"] == "section" and "reminder email" in b["text"]["text"])
    approve = next(o["value"] for o in row["accessory"]["options"] if o["value"].startswith("approve:"))
    payload: dict[str, Any] = {"type": "block_actions", "team": {"id": "T0000001"},
                               "user": {"id": "U0APPROVER", "team_id": "T0000001"}, "api_app_id": "A0APP",
                               "container": {"type": "message", "channel_id": COLLECT, "message_ts": "1"},
                               "channel": {"id": COLLECT}, "trigger_id": "t", "response_url": slack.hook("row"),
                               "message": {"ts": digest.body.get("ts", "1")},
                               "actions": [{"type": "overflow", "action_id": "approval.row",
                                            "block_id": row["block_id"], "selected_option": {"value": approve}}]}
    assert stack.post("payload=" + quote(json.dumps(payload)), "application/x-www-form-urlencoded").status_code == 200
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update" and  # "running", then the outcome
                                   "Approved by <@U0APPROVER>" in json.dumps(r.body["blocks"])]) >= 2)
    update = slack.calls("chat.update")[-1].body
    rows = len(re.findall('"approval:', json.dumps(update["blocks"])))
    assert rows in (4, 5) and update["text"].startswith(f"{rows} declined payments: {rows - 1} proposals waiting")
    assert len(tenant.emails) == 1 and "Approved by <@U0APPROVER>" in json.dumps(update["blocks"])


def test_hmac_signatures(tmp_path: Path, slack: FakeSlack) -> None:
    stack = Stack(tmp_path, slack, approvers="U0APPROVER", collections_channel=COLLECT,
                  zuora_callout_secret="s3cret-hmac-key")
    try:
        body = json.dumps({"event": "PaymentDeclined", "PaymentId": "P-00000314"})
        good = hmac.new(b"s3cret-hmac-key", body.encode(), hashlib.sha256)
        for signature, status in ((good.hexdigest(), 200), (base64.b64encode(good.digest()).decode(), 200),
                                  ("0" * 64, 401), ("", 401)):
            response = stack.http.post("/zuora/callouts", content=body.encode(), headers={
                "Content-Type": "application/json", "X-Zuora-Signature": signature,
                "Zuora-Notification-Id": f"h-{signature[:6]}"})
            assert response.status_code == status, signature
    finally:
        stack.close()


def test_parsing_and_authentication_rules() -> None:
    c = parse("application/x-www-form-urlencoded", b"BillRunId=BR-00000012&Status=Completed", " n1 ")
    assert (c.event, c.object_id, c.notification_id, c.business_key) == (
        "BillRunCompletion", "BR-00000012", "n1", "BillRunCompletion:BR-00000012")
    assert parse("application/json", b'{"Event": "Payment Declined", "paymentId": "abc"}', None).event == \
        "PaymentDeclined"
    with pytest.raises(CalloutError, match="not UTF-8"):
        parse("text/plain", b"\xff\xfe", None)
    basic = "Basic " + base64.b64encode(b"u:p").decode()
    assert authenticate({"authorization": basic}, b"", username="u", password="p", secret=None)
    assert not authenticate({}, b"", username=None, password=None, secret=None)  # nothing configured: refuse


def test_the_inbox_takes_each_event_once_unless_it_failed_or_was_abandoned(database: str) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.storage import open_db

    now = [datetime(2026, 11, 20, 9, 0, tzinfo=UTC)]
    inbox = Inbox(open_db(database), now=lambda: now[0])
    take = lambda nid: inbox.take("PaymentDeclined:p1", event="PaymentDeclined", object_id="p1",  # noqa: E731
                                  source="callout", notification_id=nid)
    assert take("n1") and not take("n1") and not take("n2")
    now[0] += timedelta(minutes=11)  # taken, never finished: the process died after answering Zuora
    assert take("n1") and not take("n3")
    inbox.finish("PaymentDeclined:p1", ok=False, detail="Zuora down")
    assert take("n4")
    inbox.finish("PaymentDeclined:p1", ok=True, detail="proposed")
    now[0] += timedelta(days=1)
    assert not take("n5") and inbox.status("PaymentDeclined:p1") == ("done", "proposed")
    assert not inbox.take("PaymentDeclined:p2", event="PaymentDeclined", object_id="p2", source="callout",
                          notification_id="n1")  # a notification id already used for another event
