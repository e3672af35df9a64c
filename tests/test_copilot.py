"""The copilot without an LLM: router + tools + templates against the embedded sandbox."""

from __future__ import annotations

import threading
from decimal import Decimal

import httpx
import pytest

from bot.copilot import Copilot, Toolbox, ToolContext
from bot.copilot.router import route
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient
from tests.conftest import FakeClock, make_client


@pytest.fixture
def copilot(client: ZuoraClient, sandbox: ZuoraSandbox) -> Copilot:
    return Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)))


def test_why_is_inv42_higher(copilot: Copilot) -> None:
    answer = copilot.ask("why is INV-42 higher")
    assert answer.intent == "explain_invoice" and answer.source == "deterministic"
    assert "*INV00000042* (868.46 USD, 2026-02-01) is *554.54 USD higher* than *INV00000022*" in answer.text
    for amount in ("+250.00 USD", "+150.00 USD", "+82.26 USD", "+30.00 USD", "+42.28 USD"):
        assert f"• *{amount}*" in answer.text
    drivers = answer.facts["drivers"]
    assert [d["kind"] for d in drivers] == ["usage_change", "quantity_change", "proration", "discount_ended",
                                            "tax_change"]
    assert sum(Decimal(d["amount"]) for d in drivers) == Decimal(answer.facts["difference"]) == Decimal("554.54")
    assert all(d["current_item_ids"] or d["previous_item_ids"] for d in drivers)
    assert [c.label for c in answer.citations] == ["INV00000042", "INV00000022"]
    assert answer.notes == ["INV-42 was read as INV00000042."]


def test_explaining_costs_two_waves_and_at_most_five_requests(sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    """Wave 1 finds the invoice; wave 2 reads its items and the previous invoice at the same time.

    The transport makes both wave-2 requests wait for each other: were they sequential, the barrier
    would time out and the explanation would fail.
    """
    barrier = threading.Barrier(2, timeout=5)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/items") or request.url.path == "/object-query/invoices":
            barrier.wait()
        return sandbox.handle(request)

    with make_client(sandbox, clock, transport=httpx.MockTransport(handler)) as client:
        answer = Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today))).ask("explain INV-42")
    assert answer.intent == "explain_invoice", answer.text
    calls = [(r.method, r.path) for r in sandbox.requests]
    assert len(calls) <= 5
    assert calls[:2] == [("POST", "/oauth/token"), ("GET", "/v1/invoices/INV00000042")]
    invoice_id = answer.facts["invoice"]["invoice_id"]
    assert sorted(calls[2:]) == [("GET", "/object-query/invoices"), ("GET", f"/v1/invoices/{invoice_id}/items")]


def test_why_higher_when_it_is_lower(copilot: Copilot) -> None:
    answer = copilot.ask("why is INV-67 higher?")
    assert answer.text.startswith("INV00000067 is not higher: *INV00000067* (635.89 USD")
    assert "*232.57 USD lower* than *INV00000042*" in answer.text
    assert sum(Decimal(d["amount"]) for d in answer.facts["drivers"]) == Decimal("-232.57")


def test_first_invoice_is_explained_by_composition(copilot: Copilot) -> None:
    answer = copilot.ask("explain INV00000001")
    assert "first invoice" in answer.text and answer.facts["mode"] == "first_invoice"
    assert sum(Decimal(d["amount"]) for d in answer.facts["drivers"]) == Decimal(answer.facts["invoice"]["amount"])


def test_unknown_invoice_is_a_clear_message(copilot: Copilot) -> None:
    answer = copilot.ask("why is INV-9999 higher")
    assert answer.intent == "error"
    assert "I couldn't find invoice 'INV-9999' (tried INV00009999, INV-9999)" in answer.text
    assert "why is INV-42 higher" in answer.text


def test_zuora_down_is_said_plainly(copilot: Copilot, sandbox: ZuoraSandbox) -> None:
    sandbox.inject("/v1/invoices/*", statuses=[503] * 20)
    answer = copilot.ask("why is INV-42 higher")
    assert answer.intent == "error" and answer.facts["error_kind"] == "unavailable"
    assert "Zuora is not answering right now" in answer.text and "Traceback" not in answer.text


def test_account_summary_shows_an_expired_card_and_declines(copilot: Copilot) -> None:
    answer = copilot.ask("what does A00000005 owe")
    assert answer.intent == "get_account_summary"
    assert "*Umbrella Health* (A00000005, Active)" in answer.text
    assert "expires 09/2026 (expired)" in answer.text
    assert "declined (54) Expired card" in answer.text
    assert answer.facts["payment_method"]["expired"] is True
    assert answer.citations[0].label == "A00000005"


def test_card_expiring_soon(copilot: Copilot) -> None:
    answer = copilot.ask("account A00000006")
    assert "expires 12/2026 (expires soon)" in answer.text


def test_payments_by_account_name_show_the_decline_reason(copilot: Copilot) -> None:
    answer = copilot.ask("declined payments for globex")
    assert answer.intent == "list_payments"
    assert "*Globex Retail* (A00000003)" in answer.text
    assert "declined (51) Insufficient funds" in answer.text
    assert all(p["status"] == "Error" for p in answer.facts["payments"])


def test_ambiguous_account_name_asks_which(copilot: Copilot) -> None:
    answer = copilot.ask("payments for so")
    assert answer.facts["error_kind"] == "ambiguous"
    assert "Soylent Foods (A00000008)" in answer.text and "Which one?" in answer.text


def test_who_is_overdue(copilot: Copilot, sandbox: ZuoraSandbox) -> None:
    answer = copilot.ask("who is overdue")
    assert answer.intent == "list_overdue_invoices"
    assert "*Stark Logistics* (A00000007): 3 invoices, 20,459.56 USD, oldest due 2026-08-31 (81 days)" \
        in answer.text
    expected = [i for i in sandbox.tenant.invoices.values() if i["status"] == "Posted" and i["balance"] > 0
                and i["dueDate"] < sandbox.tenant.today]
    assert answer.facts["invoice_count"] == len(expected)
    assert Decimal(answer.facts["totals"]["USD"]) == sum(i["balance"] for i in expected if i["currency"] == "USD")


def test_invoice_subscription_and_usage_templates(copilot: Copilot) -> None:
    invoice = copilot.ask("show invoice 42")
    assert "*INV00000042* for Northwind Traders (A00000002): 868.46 USD incl. 66.20 USD tax" in invoice.text
    assert "paid in full" in invoice.text and len(invoice.facts["lines"]) == 3
    sub = copilot.ask("subscription A-S00000002")
    assert "*A-S00000002* (A00000002): Active" in sub.text and "Launch discount" in sub.text
    usage = copilot.ask("usage A00000002")
    assert usage.intent == "get_usage" and "API Call" in usage.text and len(usage.facts["months"]) == 6


@pytest.mark.parametrize("question", ["why is INV-42 higher", "what does A00000007 owe", "who is overdue",
                                      "show INV-42", "payments A00000003"])
def test_follow_ups_are_questions_the_router_understands(copilot: Copilot, question: str) -> None:
    answer = copilot.ask(question)
    assert answer.follow_ups
    for follow_up in answer.follow_ups:
        assert route(follow_up).kind == "tool", follow_up


def test_citations_link_to_the_zuora_ui_when_configured(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    toolbox = Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today), ui_url="https://eu.zuora.example/")
    answer = Copilot(toolbox).ask("why is INV-42 higher")
    invoice_id = answer.facts["invoice"]["invoice_id"]
    assert answer.citations[0].url == f"https://eu.zuora.example/apps/NewInvoice.do?method=view&id={invoice_id}"


def test_tool_errors_for_bad_arguments(copilot: Copilot) -> None:
    outcome = copilot.toolbox.run("get_invoice", {"invoice": ""})
    assert outcome.error is not None and outcome.error.kind == "invalid"
    assert "invoice" in outcome.error.message
    assert copilot.toolbox.run("drop_tables", {}).payload()["error"] == "There is no tool 'drop_tables'."


def test_tool_schemas_come_from_argument_models_and_docstrings(copilot: Copilot) -> None:
    schemas = {t.name: t.schema()["function"] for t in copilot.toolbox.tools}
    assert set(schemas) == {"explain_invoice", "get_invoice", "get_account_summary", "list_payments",
                            "list_overdue_invoices", "get_subscription", "get_usage", "propose_credit_memo",
                            "propose_write_off", "propose_payment_retry", "propose_payment_plan",
                            "propose_dunning_email", "propose_collections_escalation",
                            "propose_subscription_change", "propose_retention_offer", "churn_risk",
                            "accounts_at_risk",
                            "list_invoice_schedules", "propose_invoice_schedule_run", "propose_bill_run",
                            "propose_invoice_note", "propose_note_email",
                            "receivables_aging", "late_payers", "failed_payments", "top_customers",
                            "bill_run_trend", "invoice_history"}
    assert "nothing changes in Zuora now" in schemas["propose_credit_memo"]["description"]
    explain = schemas["explain_invoice"]
    assert explain["parameters"]["required"] == ["invoice"]
    assert "add up exactly" in explain["description"]
    assert schemas["list_payments"]["parameters"]["properties"]["limit"]["maximum"] == 40


def test_money_moving_requests_become_drafted_proposals(copilot: Copilot, sandbox: ZuoraSandbox) -> None:
    answer = copilot.ask('credit INV-448 50 "goodwill"')
    assert answer.intent == "propose_credit_memo", answer.text
    assert "Proposed for approval:* Create a 50.00 EUR credit memo on INV00000448" in answer.text
    proposal = answer.facts["proposal"]
    assert (proposal["amount"], proposal["reason"], proposal["reason_code"]) == ("50", "goodwill", "Goodwill")
    too_much = copilot.ask("credit INV-448 99999 for the outage")
    assert too_much.intent == "error" and "is more than the charges of INV00000448" in too_much.text
    paid = copilot.ask("write off INV-42")
    assert paid.intent == "error" and "INV00000042 has no open balance" in paid.text
    assert copilot.ask("escalate A00000007").facts["proposal"]["fields"] == {"Collections_Status__c": "Escalated"}
    plan = copilot.ask("plan INV-387 3")
    assert [i["amount"] for i in plan.facts["proposal"]["installments"]] == ["2261.52", "2261.52", "2261.53"]
    assert not [r for r in sandbox.requests if r.method != "GET" and r.path != "/oauth/token"]
