"""Declined payments against the sandbox's stories: re-read, rules, the drafted proposal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.actions import Approvals, Policy
from bot.sandbox import ZuoraSandbox
from bot.sandbox.payments import record_payment
from bot.storage import open_db
from bot.webhooks.declines import handle_declined
from bot.zuora import ZuoraClient

pytestmark = pytest.mark.both_databases


@pytest.fixture
def approvals(database: str, client: ZuoraClient, sandbox: ZuoraSandbox) -> Approvals:
    return Approvals(open_db(database), client, Policy.parse(["U0APPROVER"], "", None),
                     today=lambda: sandbox.tenant.today)


def declined_payment(sandbox: ZuoraSandbox, account_number: str) -> str:
    """The account's latest Error payment, or a new one for an account that pays by wire."""
    account = sandbox.tenant.find("accounts", account_number)
    assert account is not None
    errors = [p for p in sandbox.tenant.payments.values() if p["accountId"] == account["id"] and p["status"] == "Error"]
    if errors:
        return str(errors[-1]["number"])
    payment = record_payment(sandbox.tenant, account, [], Decimal("500.00"), sandbox.tenant.today, "Electronic", None,
                             decline=("05", "Do not honor"))
    return str(payment["number"])


@pytest.mark.parametrize(("account", "kind", "says"), [
    ("A00000003", "payment_retry", "soft decline: insufficient funds"),
    ("A00000004", "dunning_email", "hard decline: stolen card"),
    ("A00000005", "dunning_email", "the card has expired"),
    ("A00000007", "collections_escalation", "days overdue (escalation after 60)"),
])
def test_each_story_gets_its_proposal(client: ZuoraClient, sandbox: ZuoraSandbox, approvals: Approvals,
                                      account: str, kind: str, says: str) -> None:
    result = handle_declined(client, approvals, declined_payment(sandbox, account), today=sandbox.tenant.today)
    assert result.proposal is not None, result.summary
    assert result.proposal.kind == kind and result.proposal.account_number == account
    assert any(says in e for e in result.proposal.evidence), result.proposal.evidence
    if kind == "payment_retry":
        assert result.proposal.on == date(2026, 12, 1)  # type: ignore[union-attr]
        assert result.proposal.request(sandbox.tenant.today).path == "/v1/payment-schedules"
    assert not [r for r in sandbox.requests if r.method != "GET" and r.path != "/oauth/token"]


def test_a_payment_that_is_fine_or_already_handled_leads_to_nothing(client: ZuoraClient, sandbox: ZuoraSandbox,
                                                                  approvals: Approvals) -> None:
    processed = handle_declined(client, approvals, "P-00000314", today=sandbox.tenant.today)
    assert processed.proposal is None and "is Processed in Zuora now" in processed.summary
    assert handle_declined(client, approvals, "P-99999999", today=sandbox.tenant.today).proposal is None
    first = handle_declined(client, approvals, declined_payment(sandbox, "A00000003"), today=sandbox.tenant.today)
    assert first.proposal is not None
    approvals.open(first.proposal, requester="zuora", team="T0", channel="C0")
    again = handle_declined(client, approvals, declined_payment(sandbox, "A00000003"), today=sandbox.tenant.today)
    assert again.proposal is None and "already waiting for approval" in again.summary
