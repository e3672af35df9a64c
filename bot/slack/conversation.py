"""Answering in Slack: load the thread's memory, ask the copilot, save the exchange, log failures with a reference.

Shared by the `/billing` command, mentions, DMs and follow-up buttons; the listeners only decide
where the answer goes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import uuid4

from bot.copilot import Copilot
from bot.copilot.answers import Answer
from bot.copilot.history import History, Turn
from bot.slack.blocks import HomeSection, answer_message, waiting_sections
from bot.slack.middleware import EventLog

__all__ = ["COMMAND_MEMORY", "Conversations", "SlackDeps", "command_thread", "question_of"]

log = logging.getLogger(__name__)

COMMAND_MEMORY = timedelta(hours=1)
"""How long `/billing` follow-ups remember the previous command's subject (commands have no threads)."""
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def _ref() -> str:
    return uuid4().hex[:10]


@dataclass
class SlackDeps:
    """What the Slack listeners need; `home_sections` gives the App Home's extra parts for a user."""

    copilot: Copilot
    history: History
    events: EventLog
    new_ref: Callable[[], str] = _ref
    home_sections: Callable[[str], list[HomeSection]] = field(default=lambda user_id: waiting_sections())


def question_of(text: str | None) -> str:
    """The question in a message: mentions of users (the bot) removed, whitespace collapsed."""
    return " ".join(_MENTION.sub(" ", text or "").split())


def command_thread(user_id: str) -> str:
    """The memory key of a user's `/billing` commands in a channel."""
    return f"cmd:{user_id}"


class Conversations:
    """Answers questions in a conversation and remembers them."""

    def __init__(self, deps: SlackDeps) -> None:
        self.deps = deps

    def answer(self, question: str, *, channel: str, thread: str, user_id: str,
               memory: timedelta | None = None) -> tuple[Turn, str | None]:
        """Answer and save; returns the saved turn and, for an error answer, the logged reference id."""
        history = self.deps.history.load(channel, thread, within=memory)
        answer = self.deps.copilot.ask(question, history)
        turn = self.deps.history.add(channel, thread, user_id, question, answer)
        reference = self._log_failure(answer, channel, user_id) if answer.intent == "error" else None
        return turn, reference

    def progress(self, question: str, *, channel: str, thread: str, memory: timedelta | None = None) -> str:
        """The status line to show while answering (reads the thread's memory)."""
        return self.deps.copilot.progress(question, self.deps.history.load(channel, thread, within=memory))

    def message(self, turn: Turn, reference: str | None, *, shareable: bool = False) -> dict[str, Any]:
        """The Block Kit message for a saved turn."""
        return answer_message(turn.exchange.answer, share_value=str(turn.id) if shareable else None,
                              reference=reference)

    def _log_failure(self, answer: Answer, channel: str, user_id: str) -> str:
        reference = self.deps.new_ref()
        log.warning("ref=%s answer failed: kind=%s tool=%s channel=%s user=%s", reference,
                    answer.facts.get("error_kind"), answer.facts.get("tool"), channel, user_id)
        return reference
