"""Customer notes after a completed bill run: individual cards for large and high-touch invoices, one grouped
card for the rest, approve → the sandbox's invoices carry the notes; autopilot applies and audits each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.actions.audit import AuditLog
from bot.sandbox import ZuoraSandbox
from tests.fakes.slack_api import FakeSlack, Recorded
from tests.slack_stack import CALLOUT_PASSWORD, CALLOUT_USER, Stack, callout

pytestmark = pytest.mark.both_databases

APPROVER, OWNER = "U0APPROVER", "U0OWNER01"
RUN = "BR-00000012"
LARGE = "INV00000455"  # 8,786.25 USD, the largest invoice of the run
SETTINGS = {"zuora_callout_username": CALLOUT_USER, "zuora_callout_password": CALLOUT_PASSWORD,
            "approvers": APPROVER, "collections_channel": "C0COLLECT", "billrun_notes": True,
            "note_review_threshold": "5000"}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.close()


def _run_invoices(sandbox: ZuoraSandbox) -> list[dict[str, Any]]:
    return [i for i in sandbox.tenant.invoices.values() if i.get("sourceId") == RUN]


def _high_touch(sandbox: ZuoraSandbox) -> str:
    """Marks the account of the run's smallest non-zero invoice high-touch, owned by OWNER; returns the invoice."""
    invoice = min((i for i in _run_invoices(sandbox) if i["amount"] > 0), key=lambda i: i["amount"])
    account = sandbox.tenant.accounts[invoice["accountId"]]
    account["custom"].update({"HighTouch__c": "true", "AccountOwner__c": OWNER, "Language__c": "fr"})
    return str(invoice["invoiceNumber"])


def _posts(slack: FakeSlack) -> list[Recorded]:
    return [r for r in slack.requests if r.method == "chat.postMessage"]


def _text(r: Recorded) -> str:
    return json.dumps(r.body.get("blocks", []), ensure_ascii=False) + r.body.get("text", "")


def _complete(stack: Stack) -> None:
    run = stack.sandbox.tenant.find("bill_runs", RUN)
    assert run is not None
    body = {"event": "BillRunCompletion", "BillRunId": run["id"], "BillRunNumber": RUN, "Status": "Completed"}
    assert callout(stack, body, notification_id="br-notes").status_code == 200


def test_bill_run_notes_are_grouped_and_large_ones_reviewed_alone(tmp_path: Path, slack: FakeSlack) -> None:
    marked: list[str] = []
    stack = Stack(tmp_path, slack, prepare=lambda s: marked.append(_high_touch(s)), **SETTINGS)
    try:
        _complete(stack)
        total = len(_run_invoices(stack.sandbox))
        store = stack.services.approvals.store  # type: ignore[union-attr]

        def all_posted(_: list[Recorded]) -> bool:
            records = store.all()
            return len(records) == total and all(r.message_ts for r in records)

        slack.wait_for(all_posted, timeout=60)
        assert {r.kind for r in store.all()} == {"invoice_note"}
        posts = _posts(slack)
        alone = [r for r in posts if "Approval needed: invoice note" in _text(r)]
        by_channel: dict[str, str] = {}
        for r in alone:
            by_channel[r.body["channel"]] = by_channel.get(r.body["channel"], "") + _text(r)
        assert LARGE in by_channel["C0COLLECT"]
        assert marked[0] in by_channel[OWNER] and "Facture " in by_channel[OWNER]  # in the customer's language
        assert "The same in English" in by_channel[OWNER]
        digest = next(r for r in posts if "customer notes ready" in r.body.get("text", ""))
        assert digest.body["channel"] == "C0COLLECT"
        assert "_Invoice INV" in _text(digest)  # each row shows its note, short

        # approve the large one: the sandbox invoice carries the note in its custom field (posted: no comments)
        value = next(e["value"] for b in next(r for r in alone if LARGE in _text(r)).body["blocks"]
                     if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "approval.approve")
        stack.action("approval.approve", value, user=APPROVER, message={"ts": "1790000000.000001"})
        invoice = stack.sandbox.tenant.find("invoices", LARGE)
        assert invoice is not None
        slack.wait_for(lambda rs: "AI_Summary__c" in invoice, timeout=30)
        assert invoice["AI_Summary__c"].startswith(f"Invoice {LARGE}") and "comments" not in invoice

        # "Approve all" on each grouped card: every grouped invoice carries its note
        covered: set[str] = set()
        clicks = []
        for r in reversed([r for r in slack.requests if r.method in ("chat.postMessage", "chat.update")]):
            for b in r.body.get("blocks", []):
                for e in b.get("elements", []) if b.get("type") == "actions" else []:
                    if e.get("action_id") == "approval.approve_all":
                        ids = {v.split(":")[0] for v in e["value"].split()}
                        if not ids & covered:
                            covered |= ids
                            clicks.append(e["value"])
        records = store.all()
        grouped = {r.id for r in records if len(store.on_card(r.channel, r.message_ts or "")) > 1}
        alone_ids = {r.id for r in records if len(store.on_card(r.channel, r.message_ts or "")) == 1}
        # how many rows the notifier posts alone before a burst folds depends on timing (a quiet channel gets a
        # card at once); every note is on exactly one card either way, and the burst does fold
        assert covered == grouped and grouped and len(grouped) + len(alone_ids) == total
        for value in clicks:
            assert stack.action("approval.approve_all", value, user=APPROVER,
                                message={"ts": "1790000000.000002"}).status_code == 200
        numbers = {r.proposal.invoice_number for r in records if r.id in grouped}
        assert LARGE not in numbers and marked[0] not in numbers
        invoices = [stack.sandbox.tenant.find("invoices", n) for n in numbers]
        slack.wait_for(lambda rs: all("AI_Summary__c" in i for i in invoices if i), timeout=90)
        owner_invoice = stack.sandbox.tenant.find("invoices", marked[0])
        assert owner_invoice is not None and "AI_Summary__c" not in owner_invoice  # the owner has not approved
        audit = AuditLog(stack.services.db)
        succeeded = lambda: len([r for r in audit.rows() if r.action == "succeeded"])  # noqa: E731
        # Zuora has each note before the database records the outcome: wait for the records, then count them
        slack.wait_for(lambda rs: succeeded() >= len(grouped) + 1, timeout=30)
        assert succeeded() == len(grouped) + 1
        assert audit.verify() == []
    finally:
        stack.close()


def test_autopilot_applies_the_rest_without_a_card_and_audits_each(tmp_path: Path, slack: FakeSlack) -> None:
    stack = Stack(tmp_path, slack, **{**SETTINGS, "note_autopilot": True})
    try:
        _complete(stack)
        invoices = _run_invoices(stack.sandbox)
        small = [i for i in invoices if i["amount"] < 5000 and i["status"] in ("Draft", "Posted")]
        slack.wait_for(lambda rs: all("AI_Summary__c" in i for i in small), timeout=90)
        large = stack.sandbox.tenant.find("invoices", LARGE)
        assert large is not None and "AI_Summary__c" not in large  # a large invoice still waits for a person
        assert not any("customer notes ready" in r.body.get("text", "") for r in _posts(slack))
        audit = AuditLog(stack.services.db)
        autopiloted = [r for r in audit.rows() if r.actor == "autopilot" and r.action == "approved"]
        assert len(autopiloted) == len(small)
        assert audit.verify() == []
    finally:
        stack.close()
