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

from bot.billruns.subscribers import Subscribers
from bot.copilot import Copilot
from bot.copilot.answers import Answer
from bot.copilot.feedback import Feedback
from bot.copilot.history import History, Turn
from bot.copilot.shared import for_channel
from bot.slack.approvals import Desk
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
    """What the Slack listeners need; `home_sections(client, user)` gives the App Home's extra parts."""

    copilot: Copilot
    history: History
    events: EventLog
    new_ref: Callable[[], str] = _ref
    desk: Desk | None = None
    """Approval cards; None when proposals are switched off (no approvers configured)."""
    collections_channel: str | None = None
    """Where cards for proposals made in DMs go (else the DM itself)."""
    subscribers: Subscribers | None = None
    """Bill-run summary subscriptions."""
    home_sections: Callable[[Any, str], list[HomeSection]] = field(default=lambda client, user_id: waiting_sections())
    feedback: Feedback | None = None
    """Thumbs up/down on answers in the Messages tab (`bot.slack.agent`); None: no feedback buttons."""


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

    def message(self, turn: Turn, reference: str | None, *, shareable: bool = False,
                note: str | None = None, public: bool = False) -> dict[str, Any]:
        """The Block Kit message for a saved turn (`note`: a line added at the end, e.g. "card posted";
        `public`: others read it, so contact details are left out)."""
        answer = for_channel(turn.exchange.answer) if public else turn.exchange.answer
        if note:
            answer = answer.model_copy(update={"text": f"{answer.text}\n{note}"})
        return answer_message(answer, share_value=str(turn.id) if shareable else None, reference=reference)

    def propose(self, client: Any, turn: Turn, *, team: str, channel: str, thread_ts: str | None = None
                ) -> str | None:
        """If the answer drafted a proposal, post its approval card; returns a sentence for the requester."""
        proposal = turn.exchange.answer.facts.get("proposal")
        if not proposal:
            return None
        if self.deps.desk is None:
            return ("Proposals are switched off here: set APPROVERS (Slack user or group ids) to turn approval "
                    "cards on.")
        answer = turn.exchange.answer
        _, message = self.deps.desk.propose(client, proposal, requester=turn.user_id, team=team, channel=channel,
                                            thread_ts=thread_ts, question=turn.exchange.question,
                                            decision=f"{answer.intent}: {answer.text}"[:2000])
        return message

    def _log_failure(self, answer: Answer, channel: str, user_id: str) -> str:
        reference = self.deps.new_ref()
        log.warning("ref=%s answer failed: kind=%s tool=%s channel=%s user=%s", reference,
                    answer.facts.get("error_kind"), answer.facts.get("tool"), channel, user_id)
        return reference
