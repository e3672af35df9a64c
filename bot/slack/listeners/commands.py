"""`/billing …`: ack at once with what is being looked up (or the usage), then answer ephemerally.

Nothing before the ack waits on Zuora, the LLM or Slack: the answer is work for the bounded pool,
so the 3-second deadline holds however slow Zuora is. When the pool is full, the ack itself says
"busy, try again in a minute".
The answer goes to the command's `response_url` with a "Post to channel" button; a drafted
proposal (`/billing credit INV-42 50 "goodwill"`) becomes an approval card in the channel.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.copilot.router import route
from bot.slack.blocks import progress_message, usage_message
from bot.slack.conversation import COMMAND_MEMORY, Conversations, SlackDeps, command_thread, question_of
from bot.slack.portfolio import has_files as answer_files
from bot.slack.portfolio import upload_files
from bot.slack.workpool import BUSY, Later

__all__ = ["COMMAND", "register"]

COMMAND = "/billing"
_NOT_SHAREABLE = ("error", "help", "clarify")
_SUBSCRIPTION = re.compile(r"^(un)?subscribe\s+(?:to\s+)?bill[- ]?runs?(?:\s+summaries)?$", re.IGNORECASE)


def register(app: App, deps: SlackDeps, later: Later) -> None:
    conversations = Conversations(deps)

    def answer(question: str, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        user = command["user_id"]
        turn, reference = conversations.answer(question, channel=command["channel_id"], thread=command_thread(user),
                                               user_id=user, memory=COMMAND_MEMORY)
        proposed = conversations.propose(client, turn, team=command.get("team_id", ""), channel=command["channel_id"])
        shareable = turn.exchange.answer.intent not in _NOT_SHAREABLE and not proposed
        respond(response_type="ephemeral", replace_original=False,
                **conversations.message(turn, reference, shareable=shareable, note=proposed))
        if answer_files(turn.exchange.answer):  # the answer is ephemeral: its CSV and chart go to the asker's DM
            dm = client.conversations_open(users=user)["channel"]["id"]
            problem = upload_files(client, turn.exchange.answer, channel=dm)
            if problem:
                respond(response_type="ephemeral", replace_original=False, text=problem)

    @app.command(COMMAND)
    def billing(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        question = question_of(command.get("text"))
        if route(question).kind == "help":
            ack(**usage_message(COMMAND))
            return
        subscription = _SUBSCRIPTION.match(question)
        if subscription and deps.subscribers is not None:
            user, stop = command["user_id"], bool(subscription.group(1))
            if stop:
                done = deps.subscribers.unsubscribe(user)
                ack(text="You will no longer get bill-run summaries." if done else
                    "You were not subscribed to bill-run summaries.")
            else:
                done = deps.subscribers.subscribe(user, command.get("team_id", ""))
                ack(text=("Subscribed: you will get a DM after each completed bill run." if done else
                          "You are already subscribed to bill-run summaries.") +
                    " `/billing unsubscribe billruns` stops it.")
            return
        progress = progress_message(deps.copilot.progress(question))["text"]
        if not later.work(command, client, answer, question, command, respond, client):
            ack(text=BUSY)
            return
        ack(text=progress)
