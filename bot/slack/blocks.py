"""Block Kit builders (pure): domain objects in, Slack message dicts out, always within Slack's limits.

Every message has a plain `text` fallback (notifications, screen readers). Limits enforced here,
because Slack rejects the whole message otherwise and slack_sdk does not check all of them: 50
blocks per message, 3000 characters per section text, 150 per header, 10 context elements, 25
buttons per actions block, 75 per button label, 2000 per button value, and about 12,000 characters
across all blocks (an undocumented cap, `msg_blocks_too_long`). A long answer is split over several
sections at line breaks, and trimmed with a visible note when it would exceed the total.

An answer's text mixes our templates with Zuora data and, with an LLM, the model's words; none of
it is meant to hold live mrkdwn tokens, so the whole text (and every note, citation label, status
line and echoed question) goes through `mrkdwn.escape()` here, once, before it is split or clipped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.copilot.answers import Answer
from bot.copilot.router import EXAMPLES
from bot.copilot.routing.proposals import PROPOSAL_EXAMPLES
from bot.money import money
from bot.slack.mrkdwn import escape, mention
from bot.slack.portfolio import summary_fields

__all__ = ["ACTION_FOLLOW_UP", "ACTION_SHARE", "MAX_BLOCKS", "HomeSection", "answer_message", "home_view",
           "oops_message", "progress_message", "split_text", "usage_message", "waiting_sections"]

ACTION_FOLLOW_UP = "copilot.follow_up"
ACTION_SHARE = "copilot.share"
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_CONTEXT = 10
MAX_TOTAL = 11_000
"""Characters across all section texts: kept under Slack's ~12k `msg_blocks_too_long` cap."""
MAX_FALLBACK = 3900
_TRIMMED = "_…the rest was trimmed to fit in Slack; run it with `python -m bot ask --json` for everything._"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def split_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """`text` in chunks of at most `limit` characters, cut at line breaks when possible."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:  # one line longer than a section: cut it hard
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def _header(answer: Answer) -> str | None:
    facts = answer.facts
    if answer.intent != "explain_invoice" or not facts.get("invoice"):
        return None
    number = facts["invoice"]["invoice_number"]
    previous = facts.get("previous") or {}
    difference = facts.get("difference")
    if facts.get("mode") == "comparison" and difference is not None and previous:
        change = money(Decimal(str(difference)), facts["currency"], signed=True)
        return _clip(f"{number} vs {previous['invoice_number']}: {change}", MAX_HEADER)
    return _clip(f"{number}: what it is made of" if facts.get("mode") == "first_invoice" else number, MAX_HEADER)


def _context(answer: Answer, reference: str | None, extra: list[str]) -> dict[str, Any] | None:
    elements: list[dict[str, Any]] = [{"type": "mrkdwn", "text": _clip(e, MAX_SECTION)} for e in extra]
    if answer.intent == "error":
        tried = answer.facts.get("tried")
        parts = [f"Tried: {escape(tried)}" if tried else "", f"Reference: `{escape(reference)}`" if reference else ""]
        if any(parts):
            elements.append({"type": "mrkdwn", "text": _clip(" · ".join(p for p in parts if p), MAX_SECTION)})
    if answer.citations:
        cited = ", ".join(f"<{escape(c.url)}|{escape(c.label)}>" if c.url else escape(c.label)
                          for c in answer.citations)
        elements.append({"type": "mrkdwn", "text": _clip(f"Sources: {cited}", MAX_SECTION)})
    for note in answer.notes:
        elements.append({"type": "mrkdwn", "text": _clip(f"_{escape(note)}_", MAX_SECTION)})
    if answer.source == "llm":
        elements.append({"type": "mrkdwn", "text": "Written by an AI model from the Zuora data above."})
    return {"type": "context", "elements": elements[:MAX_CONTEXT]} if elements else None


def _button(text: str, action_id: str, value: str, *, primary: bool = False) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id,
                              "text": {"type": "plain_text", "text": _clip(text, MAX_BUTTON_TEXT)},
                              "value": value[:MAX_BUTTON_VALUE]}
    if primary:
        button["style"] = "primary"
    return button


def answer_message(answer: Answer, *, share_value: str | None = None, reference: str | None = None,
                   shared_by: str | None = None, question: str | None = None) -> dict[str, Any]:
    """The `chat.postMessage` arguments (`text`, `blocks`) for a copilot answer.

    `share_value` adds a "Post to channel" button (for an ephemeral first answer); it is what the
    button sends back, e.g. the id of the stored answer. `reference` is shown on error answers (it
    is in the logs too). `shared_by` (a user id) and `question` credit a shared answer.
    """
    blocks: list[dict[str, Any]] = []
    header = _header(answer)
    if header:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": header}})
    fields = summary_fields(answer)  # portfolio answers: period, totals, rows (the CSV and chart follow as files)
    if fields:
        blocks.append(fields)
    credit = [f"Shared by {mention(shared_by)}" + (f", who asked: “{escape(_clip(question, 300))}”" if question else "")
              ] if shared_by else []
    trailer = [b for b in (_context(answer, reference, credit), _actions(answer, share_value)) if b]
    room = MAX_BLOCKS - len(blocks) - len(trailer) - 1
    budget = MAX_TOTAL
    trimmed = False
    text = escape(answer.text)
    for chunk in split_text(text):
        if room == 0 or len(chunk) > budget:
            trimmed = True
            break
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
        room -= 1
        budget -= len(chunk)
    if trimmed:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _TRIMMED}]})
    blocks += trailer
    return {"text": _clip(text, MAX_FALLBACK), "blocks": blocks}


def _actions(answer: Answer, share_value: str | None) -> dict[str, Any] | None:
    elements = [_button(f, f"{ACTION_FOLLOW_UP}.{i}", f) for i, f in enumerate(answer.follow_ups[:4])]
    if share_value is not None:
        elements.append(_button("Post to channel", ACTION_SHARE, share_value, primary=True))
    return {"type": "actions", "elements": elements} if elements else None


def progress_message(status: str) -> dict[str, Any]:
    """A placeholder shown while the answer is being worked out (it is updated in place)."""
    text = f":hourglass_flowing_sand: {escape(_clip(status, 300))}"
    return {"text": text, "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]}


def usage_message(command: str = "/billing") -> dict[str, Any]:
    """`/billing help` and an empty `/billing`: how to ask, with examples."""
    examples = "\n".join(f"• `{command} {e}`" for e in EXAMPLES)
    proposals = "\n".join(f"• `{command} {e}`" for e in PROPOSAL_EXAMPLES)
    text = (f"*Usage:* `{command} <question>`: I answer billing questions from Zuora.\n{examples}\n"
            f"*Propose* (an approval card; nothing changes in Zuora until it is approved):\n{proposals}\n"
            f"*Bill runs:* `{command} subscribe billruns` for a DM after each one (`unsubscribe` stops it).\n"
            "In a channel, mention me to ask in a thread; follow-up questions in the thread remember the "
            "conversation (\"and the one before?\"). You can also DM me.")
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def oops_message(reference: str) -> dict[str, Any]:
    """An unexpected failure on our side: nothing was changed; the reference is in the logs."""
    text = (f":warning: Something went wrong on my side and I could not answer. Nothing was changed in Zuora. "
            f"Reference: `{reference}` (quote it if you report this).")
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


HomeSection = tuple[str, list[dict[str, Any]]]
"""A titled part of the App Home tab, with its blocks (later features add their own)."""


def waiting_sections() -> list[HomeSection]:
    """The App Home sections before their features fill them in."""
    def note(text: str) -> list[dict[str, Any]]:
        return [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]

    return [("Pending approvals", note("No approvals are waiting for you.")),
            ("Bill-run summaries", note("Bill-run summaries by DM are not available yet."))]


def home_view(sections: list[HomeSection]) -> dict[str, Any]:
    """The App Home tab: what the bot can do, with examples, then each section (at most 100 blocks)."""
    examples = "\n".join(f"• `/billing {e}`" for e in EXAMPLES)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Billing Copilot"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            "I answer billing questions from Zuora without leaving Slack: why an invoice changed (every "
            "amount cited and adding up to the difference), what an account owes, its payments and "
            "declines, overdue invoices, subscriptions and usage.")}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Try*\n{examples}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Propose, for approval*\n" + "\n".join(
            f"• `/billing {e}`" for e in PROPOSAL_EXAMPLES)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            "Use `/billing` anywhere, mention me in a channel to get the answer in a thread, or write to me "
            "in Messages. Follow-up questions in a thread remember the conversation.")}]},
    ]
    for title, section in sections:
        blocks += [{"type": "divider"}, {"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150)}},
                   *section]
    return {"type": "home", "blocks": blocks[:100]}
