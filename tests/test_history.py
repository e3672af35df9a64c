"""Conversations: follow-ups read against what the thread was about, and the stored memory behind them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.copilot import Copilot, Toolbox, ToolContext
from bot.copilot.answers import Answer, Exchange
from bot.copilot.history import History
from bot.copilot.router import Context, progress, route
from bot.sandbox import ZuoraSandbox
from bot.storage import open_db
from bot.zuora import ZuoraClient


@pytest.fixture
def copilot(client: ZuoraClient, sandbox: ZuoraSandbox) -> Copilot:
    return Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)))


AFTER_EXPLAIN = Context(tool="explain_invoice", invoice="INV00000042", previous_invoice="INV00000022",
                        account="A00000002")
AFTER_INVOICE = Context(tool="get_invoice", invoice="INV00000042", account="A00000002")


@pytest.mark.parametrize(("question", "context", "tool", "args"), [
    ("and the one before?", AFTER_EXPLAIN, "explain_invoice", {"invoice": "INV00000022"}),
    ("what about the previous invoice", AFTER_EXPLAIN, "explain_invoice", {"invoice": "INV00000022"}),
    ("and the one before?", AFTER_INVOICE, "get_invoice", {"invoice": "INV00000042", "before": True}),
    ("why is it higher than the previous one?", AFTER_INVOICE, "explain_invoice", {"invoice": "INV00000042"}),
    ("show me the lines", AFTER_EXPLAIN, "get_invoice", {"invoice": "INV00000042"}),
    ("and their payments?", AFTER_EXPLAIN, "list_payments", {"account": "A00000002", "failed_only": False}),
    ("what do they owe", AFTER_INVOICE, "get_account_summary", {"account": "A00000002"}),
    ("any usage?", AFTER_INVOICE, "get_usage", {"account": "A00000002"}),
])
def test_follow_ups_resolve_against_the_context(question: str, context: Context, tool: str,
                                                args: dict[str, Any]) -> None:
    decision = route(question, context)
    assert (decision.kind, decision.tool, decision.args) == ("tool", tool, args)
    assert route(question).kind == "clarify"  # without the context the same words are not enough


def test_a_question_that_names_something_ignores_the_context() -> None:
    assert route("show invoice 7", AFTER_EXPLAIN).args == {"invoice": "invoice 7"}
    assert route("retry the one before", AFTER_EXPLAIN).kind == "clarify"  # money-moving: still refused
    assert route("help", AFTER_EXPLAIN).kind == "help"


def test_progress_says_what_is_being_looked_up() -> None:
    assert progress(route("why is INV-42 higher")) == "Comparing INV-42 with the invoice before it…"
    assert progress(route("payments for A00000003")) == "Looking up the payments of A00000003…"
    assert progress(route("and the one before?", AFTER_INVOICE)) == "Looking up the invoice before INV00000042…"
    assert progress(route("42")) == "Looking up invoice 42…"
    assert progress(route("gibberish")) == "Thinking…"


def test_and_the_one_before_walks_back_through_the_invoices(copilot: Copilot) -> None:
    history: list[Exchange] = []
    numbers = []
    for question in ("why is INV-42 higher", "and the one before?", "and the one before?"):
        answer = copilot.ask(question, history)
        assert answer.intent == "explain_invoice", answer.text
        numbers.append((answer.about["invoice"], answer.about.get("previous_invoice")))
        history.append(Exchange(question=question, answer=answer))
    assert numbers[0] == ("INV00000042", "INV00000022")
    assert numbers[1][0] == "INV00000022" and numbers[2][0] == numbers[1][1]


def test_the_one_before_a_first_invoice_is_a_clear_error(copilot: Copilot) -> None:
    first = copilot.ask("show invoice INV00000002")
    assert first.intent == "get_invoice", first.text
    history = [Exchange(question="show invoice 2", answer=first)]
    while True:  # walk back until the account's first invoice
        answer = copilot.ask("and the one before?", history)
        if answer.intent == "error":
            break
        history.append(Exchange(question="and the one before?", answer=answer))
        assert len(history) < 20
    assert "first posted invoice; there is none before it" in answer.text
    assert answer.facts["tried"].startswith("Looking up the invoice before INV")


@pytest.mark.both_databases
def test_history_stores_threads_apart_and_in_order(database: str) -> None:
    now = [datetime(2026, 11, 21, 9, 0, tzinfo=UTC)]
    history = History(open_db(database), now=lambda: now[0])
    first = history.add("C1", "1700.1", "U1", "why is INV-42 higher", Answer(text="a", intent="explain_invoice",
                                                                             about={"invoice": "INV00000042"}))
    now[0] += timedelta(hours=2)
    history.add("C1", "1700.1", "U2", "and the one before?", Answer(text="b", intent="explain_invoice"))
    history.add("C1", "1800.1", "U1", "other thread", Answer(text="c", intent="help"))
    assert [e.question for e in history.load("C1", "1700.1")] == ["why is INV-42 higher", "and the one before?"]
    assert [e.question for e in history.load("C1", "1700.1", limit=1)] == ["and the one before?"]
    assert [e.question for e in history.load("C1", "1700.1", within=timedelta(hours=1))] == ["and the one before?"]
    assert history.load("C2", "1700.1") == []
    turn = history.get(first.id)
    assert turn is not None and turn.user_id == "U1" and turn.exchange.answer.about == {"invoice": "INV00000042"}
    assert history.get(999) is None
