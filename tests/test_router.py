"""The deterministic router on the phrasings people type, including garbage."""

from __future__ import annotations

from typing import Any

import pytest

from bot.copilot.router import EXAMPLES, route

CASES: list[tuple[str, str, str | None, dict[str, Any]]] = [
    # (question, kind, tool, expected args subset)
    ("why is INV-42 higher", "tool", "explain_invoice", {"invoice": "INV-42"}),
    ("Why is INV00000042 so much higher than last month?", "tool", "explain_invoice", {"invoice": "INV00000042"}),
    ("explain inv42", "tool", "explain_invoice", {"invoice": "inv42"}),
    ("what changed on #42", "tool", "explain_invoice", {"invoice": "#42"}),
    ("breakdown of invoice 42 please", "tool", "explain_invoice", {"invoice": "invoice 42"}),
    ("INV-42 went up, why?", "tool", "explain_invoice", {"invoice": "INV-42"}),
    ("why is inv-41 lower", "tool", "explain_invoice", {"invoice": "inv-41"}),
    ("compare INV_42 with the previous one", "tool", "explain_invoice", {"invoice": "INV_42"}),
    ("customer says invoice #42 is more expensive", "tool", "explain_invoice", {"invoice": "invoice #42"}),
    ("show INV-42", "tool", "get_invoice", {"invoice": "INV-42"}),
    ("invoice 42", "tool", "get_invoice", {"invoice": "invoice 42"}),
    ("INV00000042", "tool", "get_invoice", {"invoice": "INV00000042"}),
    ("42", "tool", "get_invoice", {"invoice": "42"}),
    ("is INV-385 paid?", "tool", "get_invoice", {"invoice": "INV-385"}),
    ("what does A00000007 owe", "tool", "get_account_summary", {"account": "A00000007"}),
    ("account a00000007", "tool", "get_account_summary", {"account": "A00000007"}),
    ("A00000005", "tool", "get_account_summary", {"account": "A00000005"}),
    ("what does Stark Logistics owe?", "tool", "get_account_summary", {"account": "Stark Logistics"}),
    ("balance of Northwind", "tool", "get_account_summary", {"account": "Northwind"}),
    ("is the card of A00000006 ok", "tool", "get_account_summary", {"account": "A00000006"}),
    ("payments for Acme", "tool", "list_payments", {"account": "Acme", "failed_only": False}),
    ("payments A00000003", "tool", "list_payments", {"account": "A00000003"}),
    ("declined payments for Globex Retail", "tool", "list_payments", {"account": "Globex Retail", "failed_only": True}),
    ("did A00000004 pay?", "tool", "list_payments", {"account": "A00000004"}),
    ("has Umbrella Health paid", "tool", "list_payments", {"account": "Umbrella Health"}),
    ("who is overdue", "tool", "list_overdue_invoices", {}),
    ("list past due invoices", "tool", "list_overdue_invoices", {}),
    ("which customers haven't paid?", "tool", "list_overdue_invoices", {}),
    ("overdue invoices for A00000007", "tool", "list_overdue_invoices", {"account": "A00000007"}),
    ("subscription A-S00000002", "tool", "get_subscription", {"subscription": "A-S00000002"}),
    ("what plan is a-s00000002 on", "tool", "get_subscription", {"subscription": "A-S00000002"}),
    ("usage A00000002", "tool", "get_usage", {"account": "A00000002"}),
    ("how many API calls did Northwind use", "tool", "get_usage", {"account": "Northwind"}),
    ("", "help", None, {}),
    ("   ", "help", None, {}),
    ("help", "help", None, {}),
    ("?", "help", None, {}),
    ("asdf qwerty", "clarify", None, {}),
    ("🙂🙂🙂", "clarify", None, {}),
    ("'; DROP TABLE invoices; --", "clarify", None, {}),
    ("\x00\x1b[31m\x07", "clarify", None, {}),
    ("\x00\x07\t\n", "help", None, {}),
    ("payments", "clarify", None, {}),
    ("why is my invoice higher", "clarify", None, {}),
    ("show me the subscription", "clarify", None, {}),
    ("retry INV-42", "tool", "propose_payment_retry", {"invoice": "INV-42", "reason": "requested in Slack"}),
    ("credit Acme 50 EUR for the outage", "clarify", None, {}),
    ("x" * 10_000, "clarify", None, {}),
]


@pytest.mark.parametrize(("question", "kind", "tool", "args"), CASES, ids=[c[0][:40] or "empty" for c in CASES])
def test_route(question: str, kind: str, tool: str | None, args: dict[str, Any]) -> None:
    decision = route(question)
    assert (decision.kind, decision.tool) == (kind, tool), decision
    assert {k: decision.args.get(k) for k in args} == args
    if kind == "clarify":
        assert decision.message


def test_explain_remembers_the_direction_asked() -> None:
    assert route("why is INV-42 higher").expect == "higher"
    assert route("why is INV-42 lower").expect == "lower"
    assert route("explain INV-42").expect is None


def test_a_clarifying_reply_never_echoes_a_stack_trace_and_examples_all_route() -> None:
    for example in EXAMPLES:
        assert route(example).kind == "tool", example


def test_every_proposal_example_routes_to_a_propose_tool() -> None:
    from bot.copilot.routing.proposals import PROPOSAL_EXAMPLES

    for example in PROPOSAL_EXAMPLES:
        decision = route(example)
        assert decision.kind == "tool" and (decision.tool or "").startswith("propose_"), example


@pytest.mark.parametrize(("question", "tool", "args"), [
    ('credit INV-42 50 "goodwill"', "propose_credit_memo", {"invoice": "INV-42", "amount": "50", "reason": "goodwill"}),
    ("credit INV-42 $1,250.50 for the outage", "propose_credit_memo",
     {"invoice": "INV-42", "amount": "1250.50", "reason": "the outage"}),
    ("payment plan for INV-387 in 4 installments", "propose_payment_plan",
     {"invoice": "INV-387", "installments": 4, "reason": "requested in Slack"}),
    ("retry INV-448 100", "propose_payment_retry", {"invoice": "INV-448", "amount": "100",
                                                    "reason": "requested in Slack"}),
])
def test_proposal_requests_are_read(question: str, tool: str, args: dict[str, Any]) -> None:
    decision = route(question)
    assert (decision.tool, decision.args) == (tool, args)


@pytest.mark.parametrize(("question", "says"), [
    ("credit INV-42", "How much should the credit be?"), ("escalate", "Which account"),
    ("refund INV-42 20", "I can propose credit memos"), ("write off", "Which invoice?")])
def test_incomplete_proposals_ask_for_what_is_missing(question: str, says: str) -> None:
    decision = route(question)
    assert decision.kind == "clarify" and says in decision.message


SUBSCRIPTION_ROUTES = [
    ("upgrade A-S00000002 to Business", "propose_subscription_change",
     {"change": "change_plan", "plan": "Business", "when": "auto"}),
    ("downgrade a-s00000002 to Starter next month", "propose_subscription_change",
     {"change": "change_plan", "plan": "Starter", "when": "next_period"}),
    ("add 5 seats to A-S00000002", "propose_subscription_change",
     {"change": "update_quantity", "plan": "seats", "quantity": "5", "delta": True}),
    ("remove 3 seats from A-S00000002 today", "propose_subscription_change",
     {"change": "update_quantity", "quantity": "-3", "when": "today"}),
    ("set 20 seats on A-S00000002", "propose_subscription_change", {"quantity": "20", "delta": False}),
    ("add the SMS add-on to A-S00000002", "propose_subscription_change", {"change": "add_product",
                                                                          "plan": "SMS add-on"}),
    ("remove the SMS add-on from A-S00000017 at renewal", "propose_subscription_change",
     {"change": "remove_product", "plan": "SMS add-on", "when": "renewal", "subscription": "A-S00000017"}),
    ("offer A-S00000010 20% for 3 months", "propose_retention_offer", {"percent": "20", "periods": 3}),
    ("risk A00000010", "churn_risk", {"account": "A00000010"}),
    ("who is at risk", "accounts_at_risk", {}),
    ("don't upgrade A-S00000002 to Business", "get_subscription", {}),
    ("why did A-S00000002 change", "get_subscription", {}),
    ("credit INV-42 50 because they removed seats on A-S00000002", "propose_credit_memo", {}),
]


@pytest.mark.parametrize(("text", "tool", "args"), SUBSCRIPTION_ROUTES, ids=[r[0] for r in SUBSCRIPTION_ROUTES])
def test_subscription_changes_offers_and_risk_route(text: str, tool: str, args: dict[str, object]) -> None:
    decision = route(text)
    assert decision.tool == tool, decision
    assert {k: decision.args.get(k) for k in args} == args


def test_an_upgrade_without_a_plan_asks_which() -> None:
    assert route("upgrade A-S00000002").kind == "clarify"
