"""Customer notes through Slack: `/billing draft note INV-42 in German`, the card in two languages, approve, Zuora."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.actions.audit import AuditLog
from tests.fakes.slack_api import FakeSlack
from tests.test_slack_approvals import LEAD, REP, cards, click, last_value, pid, propose, stack_with, text_of

pytestmark = pytest.mark.both_databases


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.groups["S0LEADS"] = [LEAD]
    yield fake
    fake.close()


@pytest.fixture
def stack(tmp_path: Path, slack: FakeSlack) -> Iterator:
    s = stack_with(tmp_path, slack, customer_language_field="Lang__c")
    yield s
    s.close()


def test_draft_note_in_german_is_reviewed_then_written(stack, slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    proposal_id, card = propose(stack, slack, "draft note INV-42 in German")
    text = text_of(card)
    assert "Approval needed: invoice note for " in text
    for part in ("Rechnung INV00000042 vom 1. Februar 2026", "868,46\xa0$", "The same in English",
                 "Invoice INV00000042 of February 1, 2026", "AI_Summary__c"):
        assert part in text, part
    invoice = stack.sandbox.tenant.find("invoices", "INV00000042")
    assert invoice is not None and "AI_Summary__c" not in invoice  # proposing writes nothing

    click(stack, "approval.approve", proposal_id, LEAD)
    slack.wait_for(lambda rs: any("Done: invoice note" in text_of(r) for r in rs if r.method == "chat.update"))
    assert invoice["AI_Summary__c"].startswith("Rechnung INV00000042 vom 1. Februar 2026")
    assert "comments" not in invoice  # a posted invoice gets the custom field only
    audit = AuditLog(stack.services.db)
    assert [r.action for r in audit.rows(proposal_id=pid(proposal_id))] == ["proposed", "approved", "executing",
                                                                       "succeeded"]
    assert any("Done: invoice note" in text_of(c) for c in cards(slack))


def test_customer_language_comes_from_the_account_field(stack, slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    invoice = stack.sandbox.tenant.find("invoices", "INV00000042")
    account = stack.sandbox.tenant.accounts[invoice["accountId"]]
    account["custom"]["Lang__c"] = "Italiano"
    _, card = propose(stack, slack, "draft note INV-42")
    assert "Fattura INV00000042 del 1 febbraio 2026" in text_of(card)
    assert "Lang__c" in text_of(card)  # the card says where the language came from


def test_unknown_language_gets_a_clear_reply(stack, slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    stack.command("draft note INV-42 in Klingon", user=REP)
    reply = slack.wait_for(lambda rs: any(r.method.startswith("/hooks/r") for r in rs))
    hook = next(r for r in reply if r.method.startswith("/hooks/r"))
    assert "can't write notes in 'Klingon'" in text_of(hook)
    assert not any("approval.approve" in text_of(r) for r in slack.requests)


def test_a_reviewer_edits_the_note_text_and_only_the_edited_version_runs(stack, slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    proposal_id, card = propose(stack, slack, "draft note INV-42 in French")
    assert "Edit text" in text_of(card)
    click(stack, "approval.edit", proposal_id, LEAD)
    opened = slack.wait_for(lambda rs: any(r.method == "views.open" for r in rs)) and slack.calls("views.open")[0]
    field = opened.body["view"]["blocks"][1]["element"]
    assert field["initial_value"].startswith("Facture INV00000042") and field["multiline"]
    empty = stack.view_submission("approval.edit_view", proposal_id, {"text": "  "}, user=LEAD).json()
    assert empty["response_action"] == "errors" and "cannot be empty" in empty["errors"]["text"]
    edited = "Bonjour ! Votre facture INV00000042 augmente car vous avez ajouté des sièges. " * 4
    assert stack.view_submission("approval.edit_view", proposal_id, {"text": edited}, user=LEAD).status_code == 200
    slack.wait_for(lambda rs: any("Bonjour" in text_of(r) for r in rs if r.method == "chat.update"))
    new_value = last_value(slack)
    assert new_value == f"{pid(proposal_id)}:2"
    click(stack, "approval.approve", proposal_id, LEAD)  # the card of version 1: nothing runs
    invoice = stack.sandbox.tenant.find("invoices", "INV00000042")
    click(stack, "approval.approve", new_value, LEAD)
    slack.wait_for(lambda rs: "AI_Summary__c" in invoice)
    assert invoice["AI_Summary__c"] == edited.strip()
    audit = AuditLog(stack.services.db)
    assert "edited" in [r.action for r in audit.rows(proposal_id=pid(proposal_id))]
    assert cards(slack)
