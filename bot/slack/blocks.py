"""Block Kit builders (pure): domain objects in, Slack message dicts out, always within Slack's limits.

Every message has a plain `text` fallback (notifications, screen readers). Limits enforced here,
because Slack rejects the whole message otherwise and slack_sdk does not check all of them: 50
blocks per message, 3000 characters per section text, 150 per header, 10 context elements, 25
buttons per actions block, 75 per button label, 2000 per button value, and about 12,000 characters
across all blocks (an undocumented cap, `msg_blocks_too_long`). A long answer is split over several
sections at line breaks, and trimmed with a visible note when it would exceed the total.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.copilot.answers import Answer
from bot.copilot.money import money

__all__ = ["ACTION_FOLLOW_UP", "ACTION_SHARE", "MAX_BLOCKS", "answer_message", "split_text"]

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


def _context(answer: Answer) -> dict[str, Any] | None:
    elements: list[dict[str, Any]] = []
    if answer.citations:
        cited = ", ".join(f"<{c.url}|{c.label}>" if c.url else c.label for c in answer.citations)
        elements.append({"type": "mrkdwn", "text": _clip(f"Sources: {cited}", MAX_SECTION)})
    for note in answer.notes:
        elements.append({"type": "mrkdwn", "text": _clip(f"_{note}_", MAX_SECTION)})
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


def answer_message(answer: Answer, *, share_value: str | None = None) -> dict[str, Any]:
    """The `chat.postMessage` arguments (`text`, `blocks`) for a copilot answer.

    `share_value` adds a "Post to channel" button (for an ephemeral first answer); it is what the
    button sends back, e.g. the id of the stored answer.
    """
    blocks: list[dict[str, Any]] = []
    header = _header(answer)
    if header:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": header}})
    trailer = [b for b in (_context(answer), _actions(answer, share_value)) if b]
    room = MAX_BLOCKS - len(blocks) - len(trailer) - 1
    budget = MAX_TOTAL
    trimmed = False
    for chunk in split_text(answer.text):
        if room == 0 or len(chunk) > budget:
            trimmed = True
            break
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
        room -= 1
        budget -= len(chunk)
    if trimmed:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _TRIMMED}]})
    blocks += trailer
    return {"text": _clip(answer.text, MAX_FALLBACK), "blocks": blocks}


def _actions(answer: Answer, share_value: str | None) -> dict[str, Any] | None:
    elements = [_button(f, f"{ACTION_FOLLOW_UP}.{i}", f) for i, f in enumerate(answer.follow_ups[:4])]
    if share_value is not None:
        elements.append(_button("Post to channel", ACTION_SHARE, share_value, primary=True))
    return {"type": "actions", "elements": elements} if elements else None
