"""Mentions and direct messages: answer in the thread, with a placeholder updated in place.

The placeholder ("Comparing INV-42 with the invoice before it…") is posted at once and replaced by
the answer (in a DM, the app's Messages tab, the thread's status chip says it instead and the answer
ends with feedback buttons: `bot.slack.agent`); follow-ups in the same thread see the conversation
so far. Edits, bot messages and other subtypes are ignored (Bolt already drops the bot's own
events). The listener only queues the work (Bolt's 200 goes out when it returns); a full pool gets "busy" in the thread.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.agent import is_agent_thread, set_status, with_feedback
from bot.slack.blocks import progress_message
from bot.slack.conversation import Conversations, SlackDeps, question_of
from bot.slack.portfolio import upload_files
from bot.slack.workpool import Later

__all__ = ["register", "reply_in_thread"]

log = logging.getLogger(__name__)


def reply_in_thread(conversations: Conversations, client: WebClient, *, channel: str, thread: str, user_id: str,
                    question: str, team: str, card_channel: str | None = None) -> None:
    """Post a placeholder in the thread, answer, then put the answer in the placeholder's place.

    A drafted proposal's card goes in the same thread, or to `card_channel` when given.
    """
    status = conversations.progress(question, channel=channel, thread=thread)
    agent = is_agent_thread(channel)
    placeholder = None if agent and set_status(client, channel, thread, status) else \
        client.chat_postMessage(channel=channel, thread_ts=thread, **progress_message(status))
    turn, reference = conversations.answer(question, channel=channel, thread=thread, user_id=user_id)
    proposed = conversations.propose(client, turn, team=team, channel=card_channel or channel,
                                     thread_ts=None if card_channel else thread)
    message = conversations.message(turn, reference, note=proposed, public=not channel.startswith("D"))  # D…: a DM
    if agent and conversations.deps.feedback is not None:
        message = with_feedback(message, turn.id)
    if placeholder is None:  # the status chip: Slack clears it when the answer is posted
        client.chat_postMessage(channel=channel, thread_ts=thread, **message)
        return
    try:
        client.chat_update(channel=channel, ts=placeholder["ts"], **message)
    except SlackApiError as exc:  # e.g. the placeholder was deleted meanwhile: post the answer instead
        log.warning("slack: could not update the placeholder (%s); posting the answer", exc.response.get("error"))
        client.chat_postMessage(channel=channel, thread_ts=thread, **message)
    problem = upload_files(client, turn.exchange.answer, channel=channel, thread_ts=thread)  # CSV and chart, if any
    if problem:
        client.chat_postMessage(channel=channel, thread_ts=thread, text=problem)


def register(app: App, deps: SlackDeps, later: Later) -> None:
    conversations = Conversations(deps)

    def answer(event: dict[str, Any], body: dict[str, Any], client: WebClient, card_channel: str | None) -> None:
        thread = event.get("thread_ts") or event["ts"]
        reply_in_thread(conversations, client, channel=event["channel"], thread=thread, user_id=event.get("user", ""),
                        question=question_of(event.get("text")), team=body.get("team_id") or event.get("team", ""),
                        card_channel=card_channel)

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        later.work_or_busy(body, client, None, answer, event, body, client, None)

    @app.event("message")
    def on_message(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        # approvers do not read the requester's DMs: cards go to the collections channel
        later.work_or_busy(body, client, None, answer, event, body, client, deps.collections_channel)
