"""Approval cards end to end: signed Slack requests over HTTP, the fake Slack Web API, the sandbox behind."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.actions.audit import AuditLog
from bot.storage import is_postgres
from tests.conftest import Databases
from tests.fakes.slack_api import FakeSlack, Recorded
from tests.slack_stack import Stack

pytestmark = pytest.mark.both_databases

REP, APPROVER, LEAD, CFO, OUTSIDER = "U0REP001", "U0APPROVER", "U0LEAD01", "U0CFO001", "U0OUTSIDER"
MEMO_POST = "/v1/credit-memos/invoice/*"
SETTINGS = {"approvers": f"{APPROVER},S0LEADS,{CFO}",
            "approval_tiers": "250:approvers,2500:S0LEADS|U0CFO001,*:U0CFO001"}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.groups["S0LEADS"] = [LEAD]
    yield fake
    fake.close()


def stack_with(tmp_path: Path, slack: FakeSlack, **extra: Any) -> Stack:
    return Stack(tmp_path, slack, **{**SETTINGS, **extra})


@pytest.fixture
def stack(tmp_path: Path, slack: FakeSlack) -> Iterator[Stack]:
    s = stack_with(tmp_path, slack)
    yield s
    s.close()


def text_of(r: Recorded) -> str:
    return json.dumps(r.body.get("blocks", []), ensure_ascii=False) + r.body.get("text", "")


def propose(stack: Stack, slack: FakeSlack, command: str = 'credit INV-448 50 "goodwill"') -> tuple[str, Recorded]:
    """Run the command; returns the proposal id and the posted card."""
    def posted(rs: list[Recorded]) -> list[Recorded]:
        return [r for r in rs if r.method == "chat.postMessage" and "approval.approve" in text_of(r)]

    before = len(posted(slack.requests))
    hooks = len([r for r in slack.requests if r.method.startswith("/hooks/r")])
    stack.command(command, user=REP)
    # the requester's answer comes after the card's ts is stored (a click before that could not update the card)
    card = posted(slack.wait_for(lambda rs: len(posted(rs)) > before and len(
        [r for r in rs if r.method.startswith("/hooks/r")]) > hooks))[before]
    buttons = [e for b in card.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    return buttons[0]["value"], card


def pid(value: str) -> str:
    """The proposal id in a button value (`<id>:<version>`)."""
    return value.split(":")[0]


def last_value(slack: FakeSlack) -> str:
    """The Approve button's value on the card as last updated."""
    blocks = cards(slack)[-1].body["blocks"]
    return next(e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "approval.approve")


def click(stack: Stack, action_id: str, proposal_id: str, user: str, **kw: Any) -> None:
    assert stack.action(action_id, proposal_id, user=user, message={"ts": "1790000000.000001"}, **kw).status_code == 200


def cards(slack: FakeSlack) -> list[Recorded]:
    return slack.calls("chat.update")


def ephemerals(slack: FakeSlack) -> list[str]:
    return [r.body.get("text", "") for r in slack.requests if r.method.startswith("/hooks/a")]


def memo_posts(stack: Stack) -> list[Any]:
    return stack.sandbox.requests_to(MEMO_POST, "POST")


def balance(stack: Stack, number: str) -> Decimal:
    return Decimal(stack.sandbox.tenant.find("invoices", number)["balance"])  # type: ignore[index]


def test_proposal_card_then_approval_runs_once(stack: Stack, slack: FakeSlack) -> None:
    proposal_id, card = propose(stack, slack)
    text = text_of(card)
    assert card.body["channel"] == "C0SUPPORT"
    assert card.body["blocks"][0]["text"]["text"].startswith("Approval needed: credit memo for ")
    for part in ("Create a 50.00 EUR credit memo on INV00000448", "3,678.81 EUR → 3,628.81 EUR", "goodwill",
                 f"<@{REP}>", "any approver (amounts up to 250.00 EUR)", "Approve", "Reject", "Edit amount"):
        assert part in text, part
    for pii in ("@", "Street", "ending"):  # no contact emails, addresses or card digits on a channel card
        assert pii not in text.replace(f"<@{REP}>", "").replace("<!date^", ""), pii
    answer = slack.wait_for(lambda rs: any(r.method == "/hooks/r1" for r in rs)) and slack.calls("/hooks/r1")[0]
    assert "Proposal posted for approval" in answer.body["text"]
    assert memo_posts(stack) == []  # proposing writes nothing

    click(stack, "approval.approve", proposal_id, APPROVER)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= 2)
    running, done = cards(slack)[:2]
    assert "Running: credit memo" in text_of(running) and "approval.approve" not in text_of(running)
    assert "Done: credit memo" in text_of(done) and "Credit memo CM" in text_of(done)
    assert f"Approved by <@{APPROVER}>" in text_of(done) and "approval.approve" not in text_of(done)
    [post] = memo_posts(stack)
    assert post.headers.get("idempotency-key") == pid(proposal_id)  # type: ignore[attr-defined]
    assert balance(stack, "INV00000448") == Decimal("3628.81")
    dm = slack.wait_for(lambda rs: any(r.method == "conversations.open" for r in rs)) and \
        slack.calls("conversations.open")[0]
    assert dm.body["users"] == REP
    posts = slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.postMessage"]) >= 3) and \
        slack.calls("chat.postMessage")
    assert posts[1].body["thread_ts"] == card.body.get("ts", posts[1].body["thread_ts"])  # reply in the card's thread
    assert posts[2].body["channel"].startswith("D") and "Done: credit memo" in posts[2].body["text"]
    audit = AuditLog(stack.services.db)
    assert [r.action for r in audit.rows(proposal_id=pid(proposal_id))] == ["proposed", "approved", "executing",
                                                                       "succeeded"]
    assert audit.verify() == []


@pytest.mark.parametrize(("clicker", "team", "command", "why"), [
    (REP, "T0000001", 'credit INV-448 50 "goodwill"', "You asked for this"),
    (OUTSIDER, "T0000001", 'credit INV-448 50 "goodwill"', "not in the approvers list"),
    (APPROVER, "T0OTHERTEAM", 'credit INV-448 50 "goodwill"', "another Slack workspace"),
    (APPROVER, "T0000001", 'credit INV-448 300 "goodwill"', "needs <!subteam^S0LEADS> or <@U0CFO001>"),
])
def test_refused_approvals_are_explained_and_change_nothing(stack: Stack, slack: FakeSlack, clicker: str,
                                                            team: str, command: str, why: str) -> None:
    proposal_id, _ = propose(stack, slack, command)
    click(stack, "approval.approve", proposal_id, clicker, team=team)
    slack.wait_for(lambda rs: any(r.method.startswith("/hooks/a") for r in rs))
    assert why in ephemerals(slack)[0]
    assert memo_posts(stack) == [] and cards(slack) == []
    assert list(AuditLog(stack.services.db).rows(proposal_id=pid(proposal_id)))[-1].action == "approve_denied"


def test_a_lead_in_the_group_may_approve_the_middle_tier(stack: Stack, slack: FakeSlack) -> None:
    proposal_id, _ = propose(stack, slack, 'credit INV-448 300 "goodwill"')
    click(stack, "approval.approve", proposal_id, LEAD)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= 2)
    assert len(memo_posts(stack)) == 1 and slack.calls("usergroups.users.list")[0].body["usergroup"] == "S0LEADS"


def test_twenty_concurrent_clicks_and_a_replay_make_one_write(stack: Stack, slack: FakeSlack) -> None:
    proposal_id, _ = propose(stack, slack)
    threads = [threading.Thread(target=click, args=(stack, "approval.approve", proposal_id, APPROVER))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slack.wait_for(lambda rs: len([r for r in rs if r.method.startswith("/hooks/a")]) >= 19, timeout=20)
    click(stack, "approval.approve", proposal_id, CFO)  # the same click, later
    slack.wait_for(lambda rs: len([r for r in rs if r.method.startswith("/hooks/a")]) >= 20, timeout=20)
    assert len(memo_posts(stack)) == 1
    assert all("This proposal" in t for t in ephemerals(slack)), ephemerals(slack)


def test_an_invoice_paid_after_the_card_is_stale(stack: Stack, slack: FakeSlack) -> None:
    proposal_id, _ = propose(stack, slack, "write off INV-449 as uncollectable")
    invoice = stack.services.zuora.invoices.get("INV00000449")
    stack.services.zuora.payments.create({
        "type": "External", "accountId": invoice.account_id, "amount": invoice.balance, "currency": invoice.currency,
        "effectiveDate": str(stack.sandbox.tenant.today),
        "invoices": [{"invoiceId": invoice.invoice_id, "amount": invoice.balance}]}, idempotency_key="wire")
    click(stack, "approval.approve", proposal_id, LEAD)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= 2)
    final = text_of(cards(slack)[-1])
    assert "Not executed: write-off" in final and "balance 725.00 → 0.00" in final and "Propose again" in final
    assert stack.sandbox.requests_to("/v1/invoices/*/write-off", "PUT") == []


def test_reject_with_a_reason_and_edit_the_amount(stack: Stack, slack: FakeSlack) -> None:
    proposal_id, _ = propose(stack, slack)
    click(stack, "approval.reject", proposal_id, APPROVER)
    opened = slack.wait_for(lambda rs: any(r.method == "views.open" for r in rs)) and slack.calls("views.open")[0]
    assert opened.body["view"]["callback_id"] == "approval.reject_view"
    empty = stack.view_submission("approval.reject_view", proposal_id, {"reason": " "}, user=APPROVER)
    assert empty.json()["response_action"] == "errors"
    assert stack.view_submission("approval.reject_view", proposal_id, {"reason": "customer churned"},
                                 user=APPROVER).status_code == 200
    slack.wait_for(lambda rs: any(r.method == "chat.update" for r in rs))
    assert f"Rejected by <@{APPROVER}>: customer churned" in text_of(cards(slack)[-1])

    other_id, _ = propose(stack, slack)
    click(stack, "approval.edit", other_id, REP)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "views.open"]) == 2)
    assert slack.calls("views.open")[1].body["view"]["blocks"][1]["element"]["initial_value"] == "50"
    too_much = stack.view_submission("approval.edit_view", other_id, {"amount": "999999"}, user=REP).json()
    assert too_much["response_action"] == "errors" and "more than the charges" in too_much["errors"]["amount"]
    garbage = stack.view_submission("approval.edit_view", other_id, {"amount": "lots"}, user=REP).json()
    assert "is not an amount" in garbage["errors"]["amount"]
    assert stack.view_submission("approval.edit_view", other_id, {"amount": "120.50"}, user=REP).status_code == 200
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= 2)
    edited = text_of(cards(slack)[-1])
    assert "Approval needed" in edited and "120.50 EUR" in edited and "up to 250.00 EUR" in edited
    click(stack, "approval.approve", other_id, APPROVER)  # the card of version 1: it changed, nothing runs
    slack.wait_for(lambda rs: any(r.method.startswith("/hooks/a") for r in rs))
    assert "This card changed; look again." in ephemerals(slack)[-1] and memo_posts(stack) == []
    new_value = last_value(slack)
    assert new_value == f"{pid(other_id)}:2"
    updates = len(cards(slack))
    click(stack, "approval.approve", new_value, APPROVER)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= updates + 2)
    assert balance(stack, "INV00000448") == Decimal("3558.31")


def test_zuora_503_is_retried_with_the_same_key_and_422_fails_on_the_card(stack: Stack, slack: FakeSlack) -> None:
    stack.sandbox.inject(MEMO_POST, method="POST", statuses=[503], after=True)
    proposal_id, _ = propose(stack, slack)
    click(stack, "approval.approve", proposal_id, APPROVER)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= 2, timeout=30)
    assert "Done: credit memo" in text_of(cards(slack)[-1])
    assert {p.headers.get("idempotency-key") for p in memo_posts(stack)} == {pid(proposal_id)}  # type: ignore[attr-defined]
    invoice_id = stack.sandbox.tenant.find("invoices", "INV00000448")["id"]  # type: ignore[index]
    assert len([m for m in stack.sandbox.tenant.credit_memos.values() if m["referredInvoiceId"] == invoice_id]) == 1

    retry_id, _ = propose(stack, slack, "retry INV-449")  # A00000004's card is declined again (hard decline)
    click(stack, "approval.approve", retry_id, LEAD)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= 4, timeout=30)
    final = text_of(cards(slack)[-1])
    assert "Failed: payment retry" in final and "Zuora refused: Transaction declined.43" in final


def test_expired_cards_lose_their_buttons(tmp_path: Path, slack: FakeSlack) -> None:
    stack = stack_with(tmp_path, slack, approval_ttl_hours=0.0002)  # 0.72 s
    try:
        proposal_id, _ = propose(stack, slack)
        time.sleep(0.8)
        assert stack.services.desk.sweep(stack.app.client) == 1
        final = text_of(cards(slack)[-1])
        assert "Expired: credit memo" in final and "approval.approve" not in final and "Propose again" in final
        click(stack, "approval.approve", proposal_id, APPROVER)
        slack.wait_for(lambda rs: any(r.method.startswith("/hooks/a") for r in rs))
        assert "has expired" in ephemerals(slack)[0] and memo_posts(stack) == []
    finally:
        stack.close()


def test_read_only_refuses_every_execution(tmp_path: Path, slack: FakeSlack) -> None:
    stack = stack_with(tmp_path, slack, read_only=True)
    try:
        proposal_id, card = propose(stack, slack)
        assert "Read-only mode" in text_of(card)
        click(stack, "approval.approve", proposal_id, APPROVER)
        slack.wait_for(lambda rs: any(r.method.startswith("/hooks/a") for r in rs))
        assert "read-only mode" in ephemerals(slack)[0] and memo_posts(stack) == []
    finally:
        stack.close()


def test_proposals_need_approvers(tmp_path: Path, slack: FakeSlack) -> None:
    stack = Stack(tmp_path, slack)
    try:
        stack.command('credit INV-448 50 "goodwill"')
        answer = slack.wait_for(lambda rs: any(r.method == "/hooks/r1" for r in rs)) and slack.calls("/hooks/r1")[0]
        assert "set APPROVERS" in answer.body["text"] and slack.calls("chat.postMessage") == []
    finally:
        stack.close()


def test_app_home_lists_pending_approvals_for_approver_and_requester(stack: Stack, slack: FakeSlack) -> None:
    propose(stack, slack)
    propose(stack, slack, 'credit INV-448 300 "goodwill"')
    for user in (APPROVER, REP):
        stack.event({"type": "app_home_opened", "user": user, "channel": "D0", "tab": "home"})
    views = slack.wait_for(lambda rs: len([r for r in rs if r.method == "views.publish"]) == 2) and \
        slack.calls("views.publish")
    by_user = {v.body["user_id"]: json.dumps(v.body["view"], ensure_ascii=False) for v in views}
    approver, requester = by_user[APPROVER], by_user[REP]
    waiting = approver.split("*Waiting for your approval*")[1].split("*Your requests*")[0]
    assert "credit memo 50.00 EUR on INV00000448" in waiting and "300.00 EUR" not in waiting  # above their tier
    mine = requester.split("*Your requests*")[1].split("*Recent decisions*")[0]
    assert mine.count("credit memo") == 2


def test_audit_cli_exports_and_verify_catches_tampering(stack: Stack, slack: FakeSlack,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from bot.__main__ import main

    proposal_id, _ = propose(stack, slack)
    click(stack, "approval.approve", proposal_id, APPROVER)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= 2)
    path = str(stack.services.settings.database)
    assert main(["audit", "export", "--format", "jsonl", "--database", path]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["action"] for r in rows] == ["proposed", "approved", "executing", "succeeded"]
    assert rows[-1]["actor"] == APPROVER and "credit_memo_id" in rows[-1]["zuora_ids"]
    assert main(["audit", "export", "--since", "2999-01-01", "--database", path]) == 0
    assert capsys.readouterr().out.splitlines() == ["seq,at,actor,team,channel,proposal_id,action,outcome,"
                                                    "request_hash,zuora_ids,detail,version,body_hash,kind,method,"
                                                    "path,context,prev_hash,hash,mac"]
    assert main(["audit", "verify", "--database", path]) == 0
    assert "intact (4 rows" in capsys.readouterr().out
    db = stack.services.db
    db.execute("drop trigger audit_log_no_update" + (" on audit_log" if is_postgres(db) else ""))
    db.execute("update audit_log set actor = 'U0SOMEONE' where action = 'approved'")
    assert main(["audit", "verify", "--database", path]) == 1
    [line] = capsys.readouterr().out.splitlines()
    assert "trigger audit_log_no_update is missing" in line and "row 2: its content does not match its hash" in line


def test_clicks_on_an_expired_card_are_refused_at_once(tmp_path: Path, slack: FakeSlack) -> None:
    stack = stack_with(tmp_path, slack, approval_ttl_hours=0.0002)  # 0.72 s, and no sweep runs in this test
    try:
        value, _ = propose(stack, slack)
        time.sleep(0.8)
        for n, action in enumerate(("approval.edit", "approval.reject"), start=1):
            click(stack, action, value, APPROVER)
            slack.wait_for(lambda rs, n=n: len([r for r in rs if r.method.startswith("/hooks/a")]) >= n)
            assert "has expired" in ephemerals(slack)[-1]
        assert slack.calls("views.open") == []  # no modal opened on an expired card
        final = text_of(cards(slack)[-1])
        assert "Expired: credit memo" in final and "approval.approve" not in final
        assert stack.services.approvals.get(pid(value)).status == "expired"  # type: ignore[union-attr]
    finally:
        stack.close()


def test_in_demo_mode_cards_and_answers_say_demo_data(tmp_path: Path, databases: Databases, slack: FakeSlack
                                                      ) -> None:
    from bot.copilot.agent import DEMO_NOTE
    from bot.slack.cards import DEMO_MARK

    stack = stack_with(tmp_path, slack, zuora_base_url="demo")
    try:
        _, card = propose(stack, slack)
        assert DEMO_MARK in text_of(card)
        hooks = slack.wait_for(lambda rs: any(r.method.startswith("/hooks/") for r in rs))
        answer = [r for r in hooks if r.method.startswith("/hooks/")][-1]
        assert DEMO_NOTE in text_of(answer)
    finally:
        stack.close()
    _, card = propose(plain := stack_with(tmp_path, slack, database=databases.new("plain.db")), slack)
    plain.close()
    assert "Demo data" not in text_of(card)
