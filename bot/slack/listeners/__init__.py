"""Thin Slack listeners, one module per surface, each with `register(app, deps, later)`.

Every listener acks on the request thread, then hands what takes time to `later` (the bounded work
pool; see `bot.slack.workpool`), so the 200 never waits for Zuora, the LLM or Slack's Web API.
"""

from __future__ import annotations

from typing import Any

from bot.slack.conversation import SlackDeps
from bot.slack.listeners import actions, commands, home, messages, views
from bot.slack.workpool import Later, WorkPool

__all__ = ["register"]


def register(app: Any, deps: SlackDeps, later: Later | None = None) -> None:
    """Register every listener on the Bolt `app` (`later`: where work goes after the ack)."""
    later = later or Later(WorkPool(1, 0), WorkPool(1, 0, name="slack-quick"))
    for module in (commands, messages, actions, views, home):
        module.register(app, deps, later)
