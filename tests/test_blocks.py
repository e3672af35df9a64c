"""Block Kit builders: the answer's content, Slack's limits, and validation by slack_sdk's models."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.copilot import Answer, Copilot, Toolbox, ToolContext
from bot.copilot.results import Citation
from bot.sandbox import ZuoraSandbox
from bot.slack.blocks import ACTION_SHARE, MAX_BLOCKS, answer_message, split_text
from bot.zuora import ZuoraClient


def valid(message: dict[str, Any]) -> dict[str, Any]:
    """Checks slack_sdk makes (it raises SlackObjectFormationError) plus the limits it does not check."""
    assert message["text"].strip(), "a plain text fallback is required"
    assert len(message["blocks"]) <= MAX_BLOCKS
    for block in message["blocks"]:
        assert Block.parse(block).to_dict() == block  # type: ignore[union-attr]
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
    assert sum(len(b.get("text", {}).get("text", "")) + sum(len(f["text"]) for f in b.get("fields", []))
               for b in message["blocks"] if b["type"] == "section") <= 12_000
    assert sum(1 for b in message["blocks"] if b["type"] == "section" and len(b.get("fields", [])) > 10) == 0
    ids = [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert len(ids) == len(set(ids)), "action ids must be unique in a message"
    return message


def test_explanation_message(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    answer = Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today))).ask("why is INV-42 higher")
    message = valid(answer_message(answer, share_value="answer-1"))
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["header", "section", "context", "actions"]
    assert message["blocks"][0]["text"]["text"] == "INV00000042 vs INV00000022: +554.54 USD"
    section = message["blocks"][1]["text"]["text"]
    for amount in ("+250.00 USD", "+150.00 USD", "+82.26 USD", "+30.00 USD", "+42.28 USD"):
        assert amount in section
    context = [e["text"] for e in message["blocks"][2]["elements"]]
    assert context[0] == "Sources: INV00000042, INV00000022" and "read as INV00000042" in context[1]
    buttons = message["blocks"][3]["elements"]
    assert [b["value"] for b in buttons] == ["show INV00000042", "show INV00000022", "draft note INV00000042",
                                                "answer-1"]
    assert buttons[-1]["action_id"] == ACTION_SHARE and buttons[-1]["style"] == "primary"
    assert message["text"].startswith("*INV00000042* (868.46 USD")


def test_long_answers_are_split_and_trimmed_with_a_note() -> None:
    text = "\n".join(f"• line {n}: " + "x" * 190 for n in range(300))  # ~60,000 characters
    message = valid(answer_message(Answer(text=text, intent="list_overdue_invoices")))
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert all(len(s["text"]["text"]) <= 3000 for s in sections) and len(sections) > 1
    assert sections[0]["text"]["text"].startswith("• line 0: ")
    assert "trimmed to fit in Slack" in message["blocks"][-1]["elements"][0]["text"]
    assert len(message["text"]) <= 3900


def test_a_single_huge_line_is_cut() -> None:
    assert [len(c) for c in split_text("y" * 7000)] == [3000, 3000, 1000]
    assert split_text("a\n\nb", 3) == ["a\n", "b"]


def test_citation_links_notes_and_model_authorship() -> None:
    answer = Answer(text="ok", intent="get_invoice", source="llm", notes=[f"note {n}" for n in range(20)],
                    citations=[Citation(kind="invoice", label="INV00000042", object_id="abc",
                                        url="https://z.example/apps/NewInvoice.do?method=view&id=abc")],
                    follow_ups=["x" * 100, "b", "c", "d", "e", "f"])
    message = valid(answer_message(answer))
    context = message["blocks"][1]["elements"]
    assert len(context) == 10
    assert context[0]["text"] == "Sources: <https://z.example/apps/NewInvoice.do?method=view&amp;id=abc|INV00000042>"
    buttons = message["blocks"][2]["elements"]
    assert len(buttons) == 4 and len(buttons[0]["text"]["text"]) == 75 and buttons[0]["value"] == "x" * 100


@pytest.mark.parametrize("question", ["", "what does A00000007 owe", "who is overdue", "explain INV1",
                                      "INV-999999", "subscription A-S00000002"])
def test_every_answer_kind_makes_a_valid_message(client: ZuoraClient, sandbox: ZuoraSandbox, question: str) -> None:
    answer = Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today))).ask(question)
    valid(answer_message(answer, share_value="a1"))


def test_the_small_messages_and_the_home_view_are_valid() -> None:
    from slack_sdk.models.views import View

    from bot.slack.blocks import home_view, oops_message, progress_message, usage_message, waiting_sections

    assert valid(progress_message("Comparing INV-42 with the invoice before it…"))["text"].endswith("before it…")
    assert "`/billing why is INV-42 higher`" in valid(usage_message())["text"]
    assert "Reference: `abc123`" in valid(oops_message("abc123"))["text"]
    view = home_view(waiting_sections() + [("Lots", [{"type": "divider"}] * 200)])
    assert len(view["blocks"]) == 100  # Slack's cap for a Home tab
    assert View(**view).to_dict()["type"] == "home"
    titles = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert titles == ["Billing Copilot", "Pending approvals", "Bill-run summaries", "Lots"]


def test_error_answers_carry_what_was_tried_and_the_reference() -> None:
    from bot.copilot.answers import failure

    answer = failure("I couldn't find invoice 'INV-9'.", "not_found", tried="Looking up INV-9", tool="get_invoice")
    message = valid(answer_message(answer, reference="ref42"))
    context = [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert context == ["Tried: Looking up INV-9 · Reference: `ref42`"]
    shared = valid(answer_message(Answer(text="x", intent="get_invoice"), shared_by="U1", question="show 42"))
    assert shared["blocks"][-1]["elements"][0]["text"] == "Shared by <@U1>, who asked: “show 42”"
