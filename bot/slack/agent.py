"""Slack's agent messaging experience (`features.agent_view`): the Messages tab's greeting with suggested
prompts, the thread's status chip while tools run, and thumbs up/down on answers.

The greeting is posted when a person opens the app's Messages tab (`app_home_opened`, `tab ==
"messages"`), at most once a day per person; its prompts are follow-up
buttons, answered in the greeting's thread like any follow-up. In a DM the answer's thread shows
Slack's status chip (`assistant.threads.setStatus`, allowed by the `assistant:write` scope) instead
of a placeholder message; Slack clears it when the answer is posted. Answers in DMs end with a
feedback block; a click records the verdict (`bot.copilot.feedback`) and replaces the buttons with
a thank-you.

Exceptions: `slack_sdk.errors.SlackApiError` from `set_status` is caught (an install without the
scope, or Slack refusing it, falls back to the placeholder message); the rest reach the listeners'
error handler.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.copilot.router import EXAMPLES
from bot.slack.blocks import ACTION_FOLLOW_UP
from bot.slack.mrkdwn import mention

__all__ = ["FEEDBACK", "FEEDBACK_BLOCK", "SUGGESTED_PROMPTS", "feedback_done", "greeting_message",
           "is_agent_thread", "set_status", "with_feedback"]

log = logging.getLogger(__name__)

FEEDBACK = "copilot.feedback"
"""Action id prefix: `copilot.feedback.good` / `copilot.feedback.bad`; the value is the answer's turn id."""
FEEDBACK_BLOCK = "copilot_feedback"
SUGGESTED_PROMPTS: tuple[tuple[str, str], ...] = (
    ("Why did an invoice go up?", EXAMPLES[0]),
    ("What does an account owe?", EXAMPLES[2]),
    ("Who is overdue?", "who is overdue"),
    ("Payments for a customer", "payments for Globex"),
)
"""(title, message) pairs, as in the manifest's `features.agent_view.suggested_prompts` (at most 4)."""


def is_agent_thread(channel: str) -> bool:
    """A DM with the app: its Messages tab, where the agent experience applies."""
    return channel.startswith("D")


def greeting_message(user: str) -> dict[str, Any]:
    text = (f"Hi {mention(user)}! I answer Zuora billing questions (invoices, balances, payments, usage) and "
            "draft credits, retries and write-offs for approval. Ask me anything, or start with one of these:")
    buttons = [{"type": "button", "action_id": f"{ACTION_FOLLOW_UP}.{i}", "text": {"type": "plain_text", "text": title},
                "value": message} for i, (title, message) in enumerate(SUGGESTED_PROMPTS)]
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
                                     {"type": "actions", "block_id": "suggested_prompts", "elements": buttons}]}


def with_feedback(message: dict[str, Any], turn_id: int) -> dict[str, Any]:
    """`message` with thumbs up/down buttons at the end (within Slack's 50 blocks)."""
    block = {"type": "actions", "block_id": FEEDBACK_BLOCK, "elements": [
        {"type": "button", "action_id": f"{FEEDBACK}.good", "value": str(turn_id),
         "text": {"type": "plain_text", "text": ":+1: Helpful", "emoji": True}},
        {"type": "button", "action_id": f"{FEEDBACK}.bad", "value": str(turn_id),
         "text": {"type": "plain_text", "text": ":-1: Not helpful", "emoji": True}}]}
    blocks = list(message.get("blocks") or [])[:49]
    return {**message, "blocks": [*blocks, block]}


def feedback_done(blocks: list[dict[str, Any]], verdict: str, user: str) -> list[dict[str, Any]]:
    """The answer's blocks with the feedback buttons replaced by what was recorded."""
    said = "found this helpful" if verdict == "good" else "found this not helpful"
    thumb = ":+1:" if verdict == "good" else ":-1:"
    note = {"type": "context", "block_id": FEEDBACK_BLOCK,
            "elements": [{"type": "mrkdwn", "text": f"{thumb} {mention(user)} {said}. Thanks, noted."}]}
    return [note if b.get("block_id") == FEEDBACK_BLOCK else b for b in blocks]


def set_status(client: WebClient, channel: str, thread_ts: str, status: str) -> bool:
    """Show (or clear, with "") the thread's status chip; False if Slack refused it."""
    try:
        client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status=status[:150])
    except SlackApiError as exc:
        log.info("slack: no status chip (%s); a placeholder message instead", exc.response.get("error"))
        return False
    return True
