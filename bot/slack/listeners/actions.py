"""Buttons: follow-ups and "Post to channel" on answers; Approve, Reject, Edit amount and Propose again on cards.

A follow-up clicked on an ephemeral answer is answered ephemerally (with the `/billing` memory);
one clicked in a thread is answered in that thread, like a mention. Approve acks, then the desk
checks the clicker, claims the proposal, updates the card and runs it; a refused click gets an
ephemeral reason. Reject and Edit open a modal (handled in `views`) right after the ack, while the
trigger id is fresh: on the quick pool, never queued behind Zuora work. Everything that may wait on
Zuora is work for the bounded pool; when it is full the clicker is told "busy" ephemerally.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.actions import Record
from bot.copilot.shared import for_channel
from bot.slack.agent import FEEDBACK, feedback_done
from bot.slack.billruns import EXPLAIN
from bot.slack.blocks import ACTION_FOLLOW_UP, ACTION_SHARE, answer_message
from bot.slack.cards import APPROVE, APPROVE_ALL, EDIT, REJECT, REPROPOSE, ROW, edit_modal, parse_value, reject_modal
from bot.slack.conversation import COMMAND_MEMORY, Conversations, SlackDeps, command_thread
from bot.slack.listeners.messages import reply_in_thread
from bot.slack.workpool import Later

__all__ = ["FOLLOW_UP", "register"]

FOLLOW_UP = re.compile(rf"^{re.escape(ACTION_FOLLOW_UP)}\.\d+$")
_CANNOT_POST = {"not_in_channel": "I'm not a member of this channel: invite me with `/invite @billing-copilot`",
                "channel_not_found": "I can't see this channel: invite me with `/invite @billing-copilot`",
                "is_archived": "this channel is archived"}


def register(app: App, deps: SlackDeps, later: Later) -> None:
    conversations = Conversations(deps)
    register_approvals(app, deps, later)
    register_feedback(app, deps, later)

    def explained(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        message = body.get("message") or {}
        channel = (body.get("container") or {}).get("channel_id") or body["channel"]["id"]
        reply_in_thread(conversations, client, channel=channel, thread=message.get("thread_ts") or message["ts"],
                        user_id=body["user"]["id"], question=f"why is {action.get('value', '')} higher",
                        team=_team(body))

    @app.action(EXPLAIN)
    def explain(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """An "Explain" button in a bill-run summary: the explanation in that message's thread."""
        ack()
        later.work_or_busy(body, client, respond, explained, body, action, client)

    @app.action(FOLLOW_UP)
    def follow_up(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                  respond: Respond) -> None:
        ack()
        later.work_or_busy(body, client, respond, followed_up, body, action, client, respond)

    def followed_up(body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        question, user = action.get("value", ""), body["user"]["id"]
        container = body.get("container") or {}
        channel = container.get("channel_id") or body["channel"]["id"]
        if container.get("is_ephemeral") or not body.get("message"):
            turn, reference = conversations.answer(question, channel=channel, thread=command_thread(user),
                                                   user_id=user, memory=COMMAND_MEMORY)
            respond(response_type="ephemeral", replace_original=False,
                    **conversations.message(turn, reference, shareable=turn.exchange.answer.intent != "error"))
            return
        message = body["message"]
        reply_in_thread(conversations, client, channel=channel, thread=message.get("thread_ts") or message["ts"],
                        user_id=user, question=question, team=_team(body))

    @app.action(ACTION_SHARE)
    def share(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        later.work_or_busy(body, client, respond, shared, body, action, client, respond)

    def shared(body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        user = body["user"]["id"]
        value = action.get("value", "")
        turn = deps.history.get(int(value)) if value.isdigit() else None
        if turn is None:
            respond(response_type="ephemeral", replace_original=False,
                    text="That answer is no longer available. Ask again and share the new one.")
            return
        if turn.user_id != user:
            respond(response_type="ephemeral", replace_original=False,
                    text=f"Only <@{turn.user_id}>, who asked, can post this answer.")
            return
        channel = (body.get("container") or {}).get("channel_id") or body["channel"]["id"]
        exchange = turn.exchange
        try:
            client.chat_postMessage(channel=channel, **answer_message(for_channel(exchange.answer), shared_by=user,
                                                                      question=exchange.question))
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            reason = _CANNOT_POST.get(error, f"Slack said {error}")
            respond(response_type="ephemeral", replace_original=False,
                    text=f":warning: I couldn't post it: {reason}. Then click the button again.")
            return
        respond(replace_original=True, text=f":white_check_mark: Posted to <#{channel}>.")


def register_feedback(app: App, deps: SlackDeps, later: Later) -> None:
    """Thumbs up/down on an answer: recorded, then the buttons give way to a thank-you (on the quick pool)."""
    feedback = deps.feedback
    if feedback is None:
        return

    def recorded(body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        value, verdict = action.get("value", ""), action["action_id"].rsplit(".", 1)[-1]
        turn = deps.history.get(int(value)) if value.isdigit() and len(value) < 19 else None
        if turn is None or verdict not in ("good", "bad"):
            _say(respond, "That answer is no longer available.")
            return
        user = body["user"]["id"]
        feedback.record(turn.id, user, verdict)  # type: ignore[arg-type]
        message = body.get("message") or {}
        channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
        if message.get("ts") and channel:
            client.chat_update(channel=channel, ts=message["ts"], text=message.get("text") or "",
                               blocks=feedback_done(message.get("blocks") or [], verdict, user))

    @app.action(re.compile(rf"^{re.escape(FEEDBACK)}\.(good|bad)$"))
    def on_feedback(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                    respond: Respond) -> None:
        ack()
        later.quick(body, client, recorded, body, action, client, respond)


def _team(body: dict[str, Any]) -> str:
    return (body.get("user") or {}).get("team_id") or (body.get("team") or {}).get("id") or ""


def _say(respond: Respond, text: str) -> None:
    respond(response_type="ephemeral", replace_original=False, text=text)


def register_approvals(app: App, deps: SlackDeps, later: Later) -> None:
    desk = deps.desk
    if desk is None:
        return

    def approve(body: dict[str, Any], value: str, client: WebClient, respond: Respond) -> None:
        result = desk.approve(client, value, clicker=body["user"]["id"], team=_team(body))
        if result.kind not in ("claimed", "done"):
            _say(respond, result.message)

    def edit(body: dict[str, Any], value: str, client: WebClient, respond: Respond) -> None:
        record = desk.approvals.openable(*parse_value(value))
        if not isinstance(record, Record):  # changed, decided or expired: refused at once, the card redrawn
            desk.refresh(client, record.record)
            _say(respond, record.message if record.kind == "changed" else
                 f"{record.message} Its amount cannot change.")
            return
        client.views_open(trigger_id=body["trigger_id"], view=edit_modal(record))

    def reproposed(body: dict[str, Any], proposal_id: str, client: WebClient, respond: Respond) -> None:
        _say(respond, desk.repropose(client, proposal_id, clicker=body["user"]["id"], team=_team(body)))

    @app.action(APPROVE)
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                   respond: Respond) -> None:
        ack()
        later.work_or_busy(body, client, respond, approve, body, action.get("value", ""), client, respond)

    def reject(body: dict[str, Any], value: str, client: WebClient, respond: Respond) -> None:
        record = desk.approvals.openable(*parse_value(value))
        if not isinstance(record, Record):  # changed, decided or expired: refused at once, the card redrawn
            desk.refresh(client, record.record)
            _say(respond, record.message)
            return
        client.views_open(trigger_id=body["trigger_id"], view=reject_modal(value))

    @app.action(REJECT)
    def on_reject(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                  respond: Respond) -> None:
        ack()
        later.quick(body, client, reject, body, action.get("value", ""), client, respond)

    @app.action(EDIT)
    def on_edit(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        later.quick(body, client, edit, body, action.get("value", ""), client, respond)

    @app.action(ROW)
    def on_row(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        verb, _, value = ((action.get("selected_option") or {}).get("value") or "").partition(":")
        if verb == "approve":
            later.work_or_busy(body, client, respond, approve, body, value, client, respond)
        elif verb == "reject":
            later.quick(body, client, reject, body, value, client, respond)
        elif verb == "edit":
            later.quick(body, client, edit, body, value, client, respond)

    def approve_all(body: dict[str, Any], values: str, client: WebClient, respond: Respond) -> None:
        """Each row of a grouped card approved as if clicked one by one (each checked and claimed on its own)."""
        refused = []
        for value in values.split()[:100]:
            result = desk.approve(client, value, clicker=body["user"]["id"], team=_team(body))
            if result.kind not in ("claimed", "done"):
                refused.append(result.message)
        if refused:
            _say(respond, f"{len(refused)} not approved: {refused[0]}")

    @app.action(APPROVE_ALL)
    def on_approve_all(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                       respond: Respond) -> None:
        ack()
        later.work_or_busy(body, client, respond, approve_all, body, action.get("value", ""), client, respond)

    @app.action(REPROPOSE)
    def repropose(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                  respond: Respond) -> None:
        ack()
        later.work_or_busy(body, client, respond, reproposed, body, action.get("value", ""), client, respond)
