"""App Home: what the bot can do, with examples, plus the sections other features provide."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.blocks import home_view
from bot.slack.conversation import SlackDeps

__all__ = ["register"]


def register(app: App, deps: SlackDeps) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab needs nothing published
        client.views_publish(user_id=event["user"], view=home_view(deps.home_sections(client, event["user"])))
