"""Posts what Zuora's events lead to: proposal cards in the collections channel, batched into a digest
when many arrive together, and DMs (bill-run summaries).

Declined payments on a bill-run day come in bursts: proposals are collected for `window` seconds;
fewer than `threshold` get a card each, more get digest messages (one row each), so the channel
stays within Slack's ~1 message per second. The WebClient's retry handlers absorb 429s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.actions import Proposal
from bot.slack.approvals import Desk

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, desk: Desk | None, client: WebClient, *, channel: str | None, window: float = 1.0,
                 threshold: int = 5, timer: Callable[[float, Callable[[], None]], Any] = threading.Timer) -> None:
        self.desk = desk
        self.client = client
        self.channel = channel
        self.window = window
        self.threshold = threshold
        self.timer = timer
        self._pending: list[Proposal] = []
        self._lock = threading.Lock()
        self._posting = threading.Lock()
        """Held while a batch is posted, so `close()` waits for a flush the timer already started."""
        self._timer: Any = None
        self._team: str | None = None

    def team(self) -> str:
        """The bot's own Slack team (proposals from Zuora belong to it)."""
        if self._team is None:
            self._team = str(self.client.auth_test().get("team_id") or "")
        return self._team

    def propose(self, proposal: Proposal) -> str:
        """Queue a proposal from a Zuora event for the collections channel; returns what will happen."""
        if self.desk is None:
            return "not proposed: approvals are off (set APPROVERS)"
        if not self.channel:
            return "not proposed: set COLLECTIONS_CHANNEL for proposals from Zuora events"
        with self._lock:
            if any(p.target == proposal.target for p in self._pending):  # two events for one invoice
                return f"a proposal for {proposal.target} is already queued"
            self._pending.append(proposal)
            if self._timer is None:
                self._timer = self.timer(self.window, self.flush)
                if hasattr(self._timer, "daemon"):
                    self._timer.daemon = True
                self._timer.start()
        return f"{proposal.kind} queued for {self.channel}"

    def close(self) -> None:
        """At shutdown: post what is queued now rather than lose it."""
        with self._lock:
            timer = self._timer
        if timer is not None:
            timer.cancel()
        self.flush()

    def flush(self) -> None:
        with self._posting:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending, self._timer = self._pending, [], None
        if not batch or self.desk is None or not self.channel:
            return
        if len(batch) >= self.threshold:
            posted = self.desk.propose_digest(self.client, batch, requester="zuora", team=self.team(),
                                              channel=self.channel)
            log.info("collections: %d proposals posted as a digest", posted)
            return
        for proposal in batch:
            _, message = self.desk.propose(self.client, proposal, requester="zuora", team=self.team(),
                                           channel=self.channel)
            log.info("collections: %s", message)

    def dm(self, user_id: str, message: dict[str, Any]) -> bool:
        """Send `message` (`text`, `blocks`) to `user_id` by DM; False (logged) if Slack refused."""
        try:
            channel = self.client.conversations_open(users=user_id)["channel"]["id"]
            self.client.chat_postMessage(channel=channel, **message)
        except SlackApiError as exc:
            log.warning("slack: DM to %s failed (%s)", user_id, exc.response.get("error"))
            return False
        return True
