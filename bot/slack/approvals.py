"""Approval cards in Slack: post them, act on clicks, keep every card in step with its proposal.

The desk posts a proposal's card (withdrawing the proposal if Slack refuses the post), applies a
click through `bot.actions.Approvals` and then updates the card in place, replies in the card's
thread and DMs the requester. `Groups` answers which of the policy's user groups a clicker is in
(`usergroups.users.list`, cached for a few minutes; a Slack error counts as "not a member").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.actions import Approvals, Record, Result
from bot.actions.outbox import Outbox
from bot.actions.proposals import Proposal, ProposalError, parse_proposal
from bot.slack.cards import MAX_DIGEST_ROWS, approval_card, digest_card, parse_value
from bot.slack.mrkdwn import escape
from bot.zuora.errors import ZuoraError

__all__ = ["CARD_TOPIC", "Desk", "Groups"]

CARD_TOPIC = "card"
"""Outbox rows for a proposal's card after a transition: key `card:<id>:update|announce:<n>`, lane = channel."""

log = logging.getLogger(__name__)


class Groups:
    def __init__(self, groups: tuple[str, ...], *, ttl: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.groups = groups
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def of(self, client: WebClient, user: str) -> frozenset[str]:
        """The policy's groups `user` belongs to."""
        return frozenset(g for g in self.groups if user in self._members(client, g))

    def _members(self, client: WebClient, group: str) -> frozenset[str]:
        with self._lock:
            cached = self._cache.get(group)
            if cached and self.clock() - cached[0] < self.ttl:
                return cached[1]
        try:
            members = frozenset(client.usergroups_users_list(usergroup=group).get("users") or [])
        except SlackApiError as exc:
            log.warning("slack: members of %s unavailable (%s); treated as none", group, exc.response.get("error"))
            return frozenset()
        with self._lock:
            self._cache[group] = (self.clock(), members)
        return members


class Desk:
    def __init__(self, approvals: Approvals, groups: Groups, outbox: Outbox | None = None, *,
                 mirror: Any = None, demo: bool = False) -> None:
        self.approvals = approvals
        self.groups = groups
        self.outbox = outbox
        """Holds each transition's card update as a backstop (see `bot.slack.notifier`); done here at once."""
        self.mirror = mirror
        """The audit mirror to Zuora (`bot.actions.mirror.AuditMirror`), or None."""
        self.demo = demo
        """Cards say they come from the demo tenant (`ZUORA_BASE_URL=demo`)."""

    def _settled(self, record: Record, *, announced: bool) -> None:
        if self.outbox is not None:
            prefix = f"{CARD_TOPIC}:{record.id}:" if announced else f"{CARD_TOPIC}:{record.id}:update:"
            self.outbox.done_keys(prefix, topic=CARD_TOPIC)

    def anchor(self) -> None:
        """Anchor the audit log outside the database: mirror new rows to Zuora, write a signed checkpoint."""
        if self.mirror is not None:
            try:
                self.mirror.flush()
            except ZuoraError as exc:
                log.warning("audit mirror: rows wait for the next flush (%s)", type(exc).__name__)
        try:
            self.approvals.audit.checkpoint(self.approvals.now())
        except OSError as exc:
            log.warning("audit checkpoint not written (%s)", exc.strerror)

    def card(self, record: Record) -> dict[str, Any]:
        p = record.proposal
        return approval_card(record, who_may_approve=self.approvals.policy.who_may_approve(p.kind, p.amount,
                                                                                           p.currency),
                             now=self.approvals.now(), read_only=self.approvals.read_only, demo=self.demo)

    def propose(self, client: WebClient, proposal: dict[str, Any] | Proposal, *, requester: str, team: str,
                channel: str, thread_ts: str | None = None, question: str | None = None,
                decision: str | None = None) -> tuple[Record | None, str]:
        """Store the proposal and post its card; returns the record (None if the card could not be posted) and a
        sentence for the requester. `question` and `decision` (the copilot's) go into the audit log."""
        parsed = parse_proposal(proposal) if isinstance(proposal, dict) else proposal
        record = self.approvals.open(parsed, requester=requester, team=team, channel=channel, question=question,
                                     decision=decision)
        try:
            posted = client.chat_postMessage(channel=channel, thread_ts=thread_ts, **self.card(record))
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            reason = f"the approval card could not be posted in this channel ({error})"
            self.approvals.withdraw(record.id, actor="bot", reason=reason)
            hint = " Invite me with `/invite @billing-copilot` and ask again." if error in (
                "not_in_channel", "channel_not_found") else ""
            return None, f":warning: Nothing was proposed: {reason}.{hint}"
        self.approvals.attach_card(record.id, str(posted["channel"]), str(posted["ts"]))
        current = self.approvals.get(record.id)
        return current, ":memo: Proposal posted for approval; nothing changes in Zuora until it is approved."

    def propose_digest(self, client: WebClient, proposals: list[Proposal], *, requester: str, team: str,
                       channel: str) -> int:
        """Many proposals as digest messages (one row each) instead of a message each; returns how many posted."""
        posted = 0
        for start in range(0, len(proposals), MAX_DIGEST_ROWS):
            records = [self.approvals.open(p, requester=requester, team=team, channel=channel)
                       for p in proposals[start:start + MAX_DIGEST_ROWS]]
            try:
                message = client.chat_postMessage(channel=channel, **digest_card(records, now=self.approvals.now()))
            except SlackApiError as exc:
                reason = f"the digest could not be posted ({exc.response.get('error')})"
                for record in records:
                    self.approvals.withdraw(record.id, actor="bot", reason=reason)
                log.warning("slack: %s", reason)
                continue
            for record in records:
                self.approvals.attach_card(record.id, str(message["channel"]), str(message["ts"]))
            posted += len(records)
        return posted

    def refresh(self, client: WebClient, record: Record | None) -> None:
        """Put the card in step with the proposal (best effort: the state lives in the database)."""
        if record is None or not record.message_ts:
            return
        together = self.approvals.store.on_card(record.channel, record.message_ts)
        card = digest_card(together, now=self.approvals.now()) if len(together) > 1 else self.card(record)
        try:
            client.chat_update(channel=record.channel, ts=record.message_ts, **card)
        except SlackApiError as exc:
            log.warning("slack: card of %s not updated (%s)", record.id, exc.response.get("error"))
            return
        self._settled(record, announced=False)

    def announce(self, client: WebClient, record: Record) -> None:
        """An ending, said in the card's thread and to the requester by DM."""
        text = self.card(record)["text"]
        try:
            if record.message_ts:
                client.chat_postMessage(channel=record.channel, thread_ts=record.message_ts, text=text)
            if record.requester.startswith(("U", "W")):  # a person, not a Zuora callout
                dm = client.conversations_open(users=record.requester)
                client.chat_postMessage(channel=dm["channel"]["id"], text=f"Your proposal: {text}")
        except SlackApiError as exc:
            log.warning("slack: outcome of %s not announced (%s)", record.id, exc.response.get("error"))
            return
        self._settled(record, announced=True)

    def approve(self, client: WebClient, value: str, *, clicker: str, team: str | None) -> Result:
        """A click on Approve; `value` is the button's `<id>:<version>` (only that version may run)."""
        proposal_id, version = parse_value(value)
        result = self.approvals.approve(proposal_id, clicker=clicker, team=team,
                                        groups=self.groups.of(client, clicker), version=version)
        if result.kind in ("waiting", "expired", "changed"):
            self.refresh(client, result.record)  # an outdated card is redrawn with the current version
        if result.kind != "claimed" or result.record is None:
            return result
        self.refresh(client, result.record)  # "running in Zuora…": the buttons are gone before the call
        done = self.approvals.run(result.record)
        self.anchor()  # the executed row reaches the mirror before the card says so
        self.refresh(client, done.record)
        if done.record is not None:
            self.announce(client, done.record)
        return done

    def repropose(self, client: WebClient, value: str, *, clicker: str, team: str) -> str:
        record = self.approvals.get(parse_value(value)[0])
        if record is None:
            return "This proposal no longer exists."
        try:
            again = self.approvals.drafts().again(record.proposal)
        except ProposalError as exc:
            return f":warning: It cannot be proposed again: {escape(exc)}"
        except ZuoraError as exc:
            return f":warning: Zuora could not be read ({type(exc).__name__}); nothing was proposed. Try again."
        _, message = self.propose(client, again.model_dump(mode="json"), requester=clicker, team=team,
                                  channel=record.channel, thread_ts=record.message_ts)
        return message

    def sweep(self, client: WebClient) -> int:
        """Expire overdue proposals, settle those Zuora left unconfirmed, update their cards; returns how many."""
        expired = self.approvals.expire_due()
        for record in expired:
            self.refresh(client, record)
        settled = self.approvals.recover(("unknown",)) + self.approvals.recover_stuck()
        for record in settled:
            self.refresh(client, record)
            if record.status in ("succeeded", "failed"):
                self.announce(client, record)
        return len(expired) + len(settled)

    def recover(self, client: WebClient) -> int:
        """At start-up: settle proposals a crash left running, and update their cards."""
        settled = self.approvals.recover()
        for record in settled:
            self.refresh(client, record)
            if record.status in ("succeeded", "failed"):
                self.announce(client, record)
        return len(settled)

    def housekeeping(self, client: WebClient, stop: threading.Event, *, every: float = 60.0,
                     leader: Callable[[], bool] | None = None, alone: bool = True) -> None:
        """Recover at start-up, then every `every` seconds expire overdue proposals, settle unconfirmed ones and
        anchor the audit log, until `stop` is set.

        `leader`: asked before each pass; a pass runs only while it says yes (several instances on one
        database: one sweeps at a time). `alone`: no other process can be executing a proposal now (one
        process on SQLite), so the first pass settles every proposal left `executing`; with several
        instances one of them may be executing it right now, so the first pass is a sweep, which settles
        an `executing` proposal only once it is older than any execution takes (`recover_stuck`).
        """
        recovered = False
        while True:
            if leader is None or leader():
                try:
                    if recovered or not alone:
                        self.sweep(client)
                    else:
                        self.recover(client)
                    recovered = True
                    self.anchor()
                except Exception:  # a background thread must not die silently: log and keep sweeping
                    log.exception("approvals: %s failed", "expiry sweep" if recovered else "recovery at start-up")
                    recovered = True
            if stop.wait(every):
                return

    def home(self, client: WebClient, user: str) -> tuple[list[Record], list[Record], list[Record]]:
        """For App Home: proposals the user may approve, the user's own pending ones, recent endings."""
        groups = self.groups.of(client, user)
        pending = self.approvals.pending()
        policy = self.approvals.policy
        waiting = [r for r in pending if r.requester != user and user not in r.approvals and policy.check(
            amount=r.proposal.amount, currency=r.proposal.currency, requester=r.requester, team=r.team,
            clicker=user, clicker_team=None, clicker_groups=groups, already=r.approvals).allowed]
        return waiting, [r for r in pending if r.requester == user], self.approvals.recent(10)
