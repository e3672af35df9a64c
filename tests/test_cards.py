"""Approval cards (pure builders): every kind and state is valid Block Kit, within limits, with no live buttons
once decided, and no customer PII beyond the account's name and number."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from slack_sdk.models.views import View

from bot.actions.drafts import Drafts
from bot.actions.proposals import Proposal
from bot.actions.store import Record
from bot.sandbox import ZuoraSandbox
from bot.slack.cards import APPROVE, EDIT, REPROPOSE, approval_card, edit_modal, home_section, reject_modal
from bot.zuora import ZuoraClient
from tests.test_blocks import valid

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def drafts(client: ZuoraClient, sandbox: ZuoraSandbox) -> list[Proposal]:
    d = Drafts(client, sandbox.tenant.today)
    return [d.credit_memo("INV-448", Decimal("50"), "goodwill"), d.write_off("INV-449", "uncollectable"),
            d.payment_retry("INV-448", None, "card updated"), d.payment_plan("INV-387", 3, "asked for time"),
            d.dunning_email("INV-385", "reminder"), d.collections_escalation("A00000007", "four months late")]


def record(proposal: Proposal, status: str = "pending", outcome: dict[str, str] | None = None) -> Record:
    return Record(id="p" * 32, status=status, proposal=proposal, request=proposal.request(NOW.date()),  # type: ignore[arg-type]
                  requester="U0REP", team="T0", channel="C0", message_ts="1.1", approvals=(), outcome=outcome,
                  created_at=NOW, expires_at=NOW + timedelta(hours=24), updated_at=NOW)


def action_ids(message: dict[str, object]) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]  # type: ignore[index,union-attr]


@pytest.mark.parametrize("status", ["pending", "executing", "succeeded", "failed", "unknown", "rejected", "expired",
                                    "stale"])
def test_every_kind_and_state_is_a_valid_card(client: ZuoraClient, sandbox: ZuoraSandbox, status: str) -> None:
    outcome = None if status in ("pending", "executing") else {"message": "Zuora said so.", "by": "U0APP",
                                                                 "at": NOW.isoformat(), "document": "CM00000009"}
    for proposal in drafts(client, sandbox):
        message = valid(approval_card(record(proposal, status, outcome=outcome), who_may_approve="any approver",
                                      now=NOW))
        ids = action_ids(message)
        if status == "pending":
            assert ids[:2] == [APPROVE, "approval.reject"] and (EDIT in ids) == (proposal.kind in (
                "credit_memo", "payment_retry", "payment_plan"))
        else:
            assert APPROVE not in ids and ids == ([REPROPOSE] if status in ("stale", "expired") else [])
        text = json.dumps(message)
        account = sandbox.tenant.find("accounts", proposal.account_number)
        assert account is not None
        contact = account["billToContact"]
        for pii in (contact["workEmail"], contact["workPhone"], contact["address1"], contact["lastName"]):
            assert pii not in text


def test_the_approve_button_asks_for_confirmation_and_modals_are_valid(client: ZuoraClient,
                                                                      sandbox: ZuoraSandbox) -> None:
    credit = drafts(client, sandbox)[0]
    card = approval_card(record(credit), who_may_approve="any approver", now=NOW)
    approve = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]][0]
    assert approve["confirm"]["confirm"]["text"] == "Approve" and "50.00 EUR" in approve["confirm"]["text"]["text"]
    for view in (reject_modal("p" * 32), edit_modal(record(credit))):
        assert View(**view).to_dict()["type"] == "modal"
    two = approval_card(replace(record(credit), approvals=("U0CFO",)), who_may_approve="x", now=NOW)
    assert "Approved by <@U0CFO> (1 of 2)" in json.dumps(two) and APPROVE in action_ids(two)


def test_home_section_lists_each_part(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    credit = drafts(client, sandbox)[0]
    blocks = home_section([record(credit)], [], [record(credit, "succeeded", outcome={"by": "U0APP"})])
    texts = [b["text"]["text"] for b in blocks]
    assert texts[0].startswith("*Waiting for your approval*\n• credit memo 50.00 EUR on INV00000448")
    assert texts[1] == "*Your requests*\n_none_"
    assert "succeeded: credit memo 50.00 EUR on INV00000448 by <@U0APP>" in texts[2]
