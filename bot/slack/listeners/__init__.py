"""Thin Slack listeners, one module per surface, each with `register(app, deps)`; they ack first."""

from __future__ import annotations

from typing import Any

from bot.slack.conversation import SlackDeps
from bot.slack.listeners import actions, commands, home, messages, views

__all__ = ["register"]


def register(app: Any, deps: SlackDeps) -> None:
    """Register every listener on the Bolt `app`."""
    for module in (commands, messages, actions, views, home):
        module.register(app, deps)
