"""App Home: what the bot can do, with examples, plus the sections other features provide, and the
bill-run summary toggle (the view is published again after a change); opening the Messages tab
greets the person with suggested prompts (`bot.slack.agent`). Both run on the quick pool, after the ack."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.agent import greeting_message
from bot.slack.billruns import SUBSCRIBE, UNSUBSCRIBE
from bot.slack.blocks import home_view
from bot.slack.conversation import SlackDeps
from bot.slack.workpool import Later

__all__ = ["register"]


def register(app: App, deps: SlackDeps, later: Later) -> None:
    def publish(client: WebClient, user: str) -> None:
        client.views_publish(user_id=user, view=home_view(deps.home_sections(client, user)))

    def greet(client: WebClient, user: str, channel: str) -> None:
        if deps.events.first_delivery(f"greeting:{user}:{deps.events.now().date().isoformat()}"):
            client.chat_postMessage(channel=channel, **greeting_message(user))

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") == "messages":  # the agent's conversation: a greeting, once a day
            if event.get("channel"):
                later.quick(body, client, greet, client, event["user"], event["channel"])
            return
        later.quick(body, client, publish, client, event["user"])

    subscribers = deps.subscribers
    if subscribers is None:
        return

    def subscribe(client: WebClient, user: dict[str, Any]) -> None:
        subscribers.subscribe(user["id"], user.get("team_id") or "")
        publish(client, user["id"])

    def unsubscribe(client: WebClient, user: dict[str, Any]) -> None:
        subscribers.unsubscribe(user["id"])
        publish(client, user["id"])

    @app.action(SUBSCRIBE)
    def on_subscribe(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        later.quick(body, client, subscribe, client, body["user"])

    @app.action(UNSUBSCRIBE)
    def on_unsubscribe(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        later.quick(body, client, unsubscribe, client, body["user"])
