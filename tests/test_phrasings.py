"""The question asked is the one answered: phrasings of every intent, read by the deterministic router, and an
explicit comparison target honoured end to end."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.copilot import Copilot, Toolbox, ToolContext
from bot.copilot.router import route
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient

PHRASINGS = [  # (question, tool, arguments)
    # explain, against the previous invoice or the one asked for
    ("why is INV-42 higher", "explain_invoice", {"invoice": "INV-42"}),
    ("what changed on invoice 42", "explain_invoice", {"invoice": "invoice 42"}),
    ("explain inv42", "explain_invoice", {"invoice": "inv42"}),
    ("compare INV-42 and INV-1", "explain_invoice", {"invoice": "INV-42", "compare_to": "INV-1"}),
    ("why is INV-42 higher than INV-22", "explain_invoice", {"invoice": "INV-42", "compare_to": "INV-22"}),
    ("INV-42 vs #22", "explain_invoice", {"invoice": "INV-42", "compare_to": "#22"}),
    ("INV-42 compared to INV-22", "explain_invoice", {"invoice": "INV-42", "compare_to": "INV-22"}),
    # show an invoice
    ("show invoice 42", "get_invoice", {"invoice": "invoice 42"}),
    ("INV00000042", "get_invoice", {"invoice": "INV00000042"}),
    ("42", "get_invoice", {"invoice": "42"}),
    # account summary
    ("what does A00000007 owe", "get_account_summary", {"account": "A00000007"}),
    ("account summary for Stark Logistics", "get_account_summary", {"account": "Stark Logistics"}),
    ("summary of Stark Logistics", "get_account_summary", {"account": "Stark Logistics"}),
    ("account summary for A00000007", "get_account_summary", {"account": "A00000007"}),
    ("balance of Globex", "get_account_summary", {"account": "Globex"}),
    ("status of Umbrella Health", "get_account_summary", {"account": "Umbrella Health"}),
    ("what does Stark Logistics owe?", "get_account_summary", {"account": "Stark Logistics"}),
    # payments
    ("payments for Globex", "list_payments", {"account": "Globex", "failed_only": False}),
    ("declined payments for A00000003", "list_payments", {"account": "A00000003", "failed_only": True}),
    ("did Umbrella Health pay", "list_payments", {"account": "Umbrella Health", "failed_only": False}),
    # overdue
    ("who is overdue", "list_overdue_invoices", {}),
    ("schedules A00000010", "list_invoice_schedules", {"key": "A00000010"}),
    ("show invoice schedules for A-S00000002", "list_invoice_schedules", {"key": "A-S00000002"}),
    ("overdue invoices for A00000007", "list_overdue_invoices", {"account": "A00000007"}),
    ("who hasn't paid", "list_overdue_invoices", {}),
    # subscription
    ("subscription A-S00000002", "get_subscription", {"subscription": "A-S00000002"}),
    ("show a-s00000002", "get_subscription", {"subscription": "A-S00000002"}),
    # usage
    ("usage A00000002", "get_usage", {"account": "A00000002"}),
    ("how many api calls did A00000002 use", "get_usage", {"account": "A00000002"}),
    # churn risk (issue 16)
    ("risk A00000005", "churn_risk", {"account": "A00000005"}),
    ("churn risk for a00000010", "churn_risk", {"account": "A00000010"}),
    ("at risk", "accounts_at_risk", {}),
    ("which accounts are at risk", "accounts_at_risk", {}),
    # portfolio questions (more in tests/test_analytics.py)
    ("aging", "receivables_aging", {}),
    ("what is overdue and for how long", "receivables_aging", {}),
    ("who pays late", "late_payers", {}),
    ("late payers last 6 months", "late_payers", {"period": "last 6 months"}),
    ("failed payments last quarter by country", "failed_payments", {"period": "last quarter", "group_by": "country"}),
    ("declines by code this month", "failed_payments", {"period": "this month", "group_by": "code"}),
    ("top 10 customers by revenue last 12 months", "top_customers",
     {"period": "last 12 months", "measure": "payments", "limit": 10}),
    ("who are our biggest customers", "top_customers", {"measure": "payments", "limit": 10}),
    ("bill run trend", "bill_run_trend", {}),
    ("totals of the last 3 bill runs", "bill_run_trend", {"runs": 3}),
    ("invoice history A00000074", "invoice_history", {"account": "A00000074"}),
    ("invoice history for Globex last 6 months", "invoice_history", {"period": "last 6 months", "account": "Globex"}),
    # proposals (drafts only)
    ("retry INV-448", "propose_payment_retry", {"invoice": "INV-448", "reason": "requested in Slack"}),
    ("escalate A00000007", "propose_collections_escalation",
     {"account": "A00000007", "reason": "requested in Slack"}),
]


@pytest.mark.parametrize(("question", "tool", "args"), PHRASINGS)
def test_each_phrasing_reaches_its_intent(question: str, tool: str, args: dict) -> None:
    decision = route(question)
    assert (decision.kind, decision.tool, decision.args) == ("tool", tool, args)


def test_every_read_intent_has_phrasings() -> None:
    from bot.copilot.tools import TOOLS

    reads = {name for name in TOOLS if not name.startswith("propose_")}
    assert reads <= {tool for _, tool, _ in PHRASINGS}


@pytest.fixture
def copilot(client: ZuoraClient, sandbox: ZuoraSandbox) -> Copilot:
    return Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)))


def test_an_explicit_comparison_target_is_honoured_and_said(copilot: Copilot) -> None:
    before = copilot.ask("why is INV-42 higher")
    assert before.facts["previous"]["invoice_number"] == "INV00000022"
    asked = copilot.ask("compare INV-42 and INV-1")
    assert asked.intent == "explain_invoice" and asked.facts["previous"]["invoice_number"] == "INV00000001"
    assert asked.facts["compared_with"] == "the invoice asked for"
    assert "Compared with INV00000001, as asked (not with the invoice before INV00000042)." in asked.notes
    assert "than *INV00000001*" in asked.text
    drivers = asked.facts["drivers"]
    assert sum(Decimal(d["amount"]) for d in drivers) == Decimal(asked.facts["difference"]) == \
        Decimal(asked.facts["invoice"]["amount"]) - Decimal(asked.facts["previous"]["amount"])
    assert "compare_to" not in route("compare INV-42 and INV00000042").args  # one invoice typed two ways
    same = copilot.toolbox.run("explain_invoice", {"invoice": "INV-42", "compare_to": "INV00000042"})
    assert same.error is not None and "are the same invoice (INV00000042)" in same.error.message


def test_account_summary_for_a_name(copilot: Copilot) -> None:
    answer = copilot.ask("account summary for Stark Logistics")
    assert answer.intent == "get_account_summary" and answer.text.startswith("*Stark Logistics* (A00000007")
