"""The approval state machine: open, approve (claim, stale check, execute), reject, edit, expire, recover.

    pending -> approved -> executing -> succeeded | failed | unknown
    pending -> rejected | expired ;  executing -> stale (the object moved since the card)

Every transition is one conditional update committed together with its audit row, so double
clicks, two processes and replays run a proposal once. Denied clicks are audited too and change
nothing else. `approve()` only claims; `run()` does the Zuora part, so the caller can show
"executing" on the card in between. `READ_ONLY` keeps proposing but refuses every execution.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

import sqlite_utils

from bot.actions.audit import AuditLog
from bot.actions.drafts import Drafts
from bot.actions.executor import Outcome, execute, reconcile
from bot.actions.policy import Policy
from bot.actions.proposals import Proposal, ProposalError
from bot.actions.store import Record, Store
from bot.storage import transaction
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraError

__all__ = ["Approvals", "Result"]

log = logging.getLogger(__name__)

ResultKind = Literal["claimed", "waiting", "done", "denied", "already", "expired", "read_only", "invalid",
                     "not_found", "rejected", "edited", "stale"]
KEY_WINDOW = timedelta(hours=23)
"""Zuora keeps an Idempotency-Key's answer for 24 h; past this, a re-send could run twice."""


@dataclass(frozen=True)
class Result:
    """What a click did: the kind, the record as it now stands, and a sentence for the clicker."""

    kind: ResultKind
    record: Record | None
    message: str = ""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Approvals:
    def __init__(self, db: sqlite_utils.Database, client: ZuoraClient, policy: Policy, *, read_only: bool = False,
                 ttl: timedelta = timedelta(hours=24), now: Callable[[], datetime] = _utc_now,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex, today: Callable[[], date] = date.today
                 ) -> None:
        self.db = db
        self.store = Store(db)
        self.audit = AuditLog(db)
        self.client = client
        self.policy = policy
        self.read_only = read_only
        self.ttl = ttl
        self.now = now
        self.new_id = new_id
        self.today = today
        self.on_change: Callable[[Record, str, str], None] | None = None
        """Called inside the transaction of each transition, with the action and the new status (the
        outbox records there what the card still needs, see `bot.slack.notifier`)."""

    def drafts(self) -> Drafts:
        return Drafts(self.client, self.today())

    # -- opening -----------------------------------------------------------------------------------

    def open(self, proposal: Proposal, *, requester: str, team: str, channel: str,
             proposal_id: str | None = None) -> Record:
        """Store a pending proposal (audited as `proposed`); with `proposal_id`, once (the outbox retries)."""
        if proposal_id and (existing := self.store.get(proposal_id)) is not None:
            return existing
        now, pid = self.now(), proposal_id or self.new_id()
        record = Record(id=pid, status="pending", proposal=proposal, request=proposal.request(self.today()),
                        requester=requester, team=team, channel=channel, message_ts=None, approvals=(), outcome=None,
                        created_at=now, expires_at=now + self.ttl, updated_at=now)
        with transaction(self.db):
            self.store.insert(record)
            self._audit(record, requester, "proposed", "pending", detail=proposal.sentence())
        return record

    def attach_card(self, proposal_id: str, channel: str, message_ts: str) -> None:
        self.store.set_card(proposal_id, channel, message_ts)

    def get(self, proposal_id: str) -> Record | None:
        return self.store.get(proposal_id)

    def withdraw(self, proposal_id: str, *, actor: str, reason: str) -> None:
        """pending -> rejected by the bot itself (e.g. the card could not be posted)."""
        self._move(proposal_id, ("pending",), "rejected", actor=actor, action="withdrawn", detail=reason,
                   outcome={"message": reason, "by": actor})

    # -- clicks ------------------------------------------------------------------------------------

    def approve(self, proposal_id: str, *, clicker: str, team: str | None, groups: frozenset[str]) -> Result:
        """Check the clicker and claim the proposal; `run()` then executes a `claimed` result."""
        record = self.store.get(proposal_id)
        if record is None:
            return Result("not_found", None, "This proposal no longer exists.")
        if record.status != "pending":
            return Result("already", record, _already(record))
        if self.now() >= record.expires_at:
            return self._expire(record)
        p = record.proposal
        decision = self.policy.check(amount=p.amount, currency=p.currency, requester=record.requester,
                                     team=record.team, clicker=clicker, clicker_team=team, clicker_groups=groups,
                                     already=record.approvals)
        if not decision.allowed:
            with transaction(self.db):
                self._audit(record, clicker, "approve_denied", "denied", detail=decision.reason, team=team)
            return Result("denied", record, decision.reason)
        if self.read_only:
            with transaction(self.db):
                self._audit(record, clicker, "approve_refused", "read_only", team=team,
                            detail="READ_ONLY is set: nothing is executed")
            return Result("read_only", record, "The bot is in read-only mode (READ_ONLY=true): nothing is executed.")
        approvals = (*record.approvals, clicker)
        needed = self.policy.approvals_needed(p.kind, p.amount)
        if len(approvals) < needed:
            with transaction(self.db):
                moved = self.store.transition(record.id, ("pending",), "pending", now=self.now(), approvals=approvals,
                                              expect_approvals=record.approvals)
                if moved:
                    self._audit(record, clicker, "approved", f"{len(approvals)} of {needed}", team=team,
                                detail=decision.reason)
            current = self.store.get(record.id)
            if not moved:
                return Result("already", current, _already(current) if current else "")
            return Result("waiting", current, "Approved. A second, different approver is needed for this write-off.")
        request = p.request(self.today())  # dated today (a payment's effective date must be the day it runs)
        with transaction(self.db):
            claimed = self.store.transition(record.id, ("pending",), "executing", now=self.now(),
                                            approvals=approvals, expect_approvals=record.approvals, request=request)
            if claimed:
                self._audit(record, clicker, "approved", "approved", team=team, detail=decision.reason)
                self._audit(replace(record, request=request), clicker, "executing", "executing", team=team)
        current = self.store.get(record.id)
        if not claimed:
            return Result("already", current, _already(current) if current else "")
        return Result("claimed", current, "Approved; running it in Zuora now.")

    def run(self, record: Record) -> Result:
        """Execute a claimed proposal: re-read the object (stale?), send the stored request once, record it."""
        current = self.store.get(record.id)
        if current is None or current.status != "executing":  # only a claim (see approve) may run
            return Result("already", current, _already(current) if current else "This proposal no longer exists.")
        record = current
        actor = record.approvals[-1] if record.approvals else "bot"
        try:
            now_seen = self.drafts().snapshot(record.proposal)
        except ZuoraError as exc:
            outcome = Outcome("failed", f"Zuora could not be read before executing ({type(exc).__name__}); nothing "
                                        f"was sent. Propose it again.")
            return Result("done", self._finish(record, outcome, actor))
        changed = record.proposal.snapshot.differences(now_seen)
        if changed:
            message = f"Not executed: {record.proposal.target} changed since the card was made ({'; '.join(changed)})."
            self._move(record.id, ("executing",), "stale", actor=actor, action="stale", detail=message,
                       outcome={"message": message})
            return Result("stale", self.store.get(record.id), message)
        outcome = execute(self.client, record.id, record.proposal, record.request)
        return Result("done", self._finish(record, outcome, actor), outcome.message)

    def reject(self, proposal_id: str, *, clicker: str, team: str | None, groups: frozenset[str],
               reason: str) -> Result:
        record = self._decidable(proposal_id, clicker, team, groups, "reject")
        if isinstance(record, Result):
            return record
        reason = reason.strip() or "no reason given"
        moved = self._move(record.id, ("pending",), "rejected", actor=clicker, action="rejected", detail=reason,
                           outcome={"message": reason, "by": clicker}, team=team)
        current = self.store.get(record.id)
        if not moved:
            return Result("already", current, _already(current) if current else "")
        return Result("rejected", current, "Rejected.")

    def edit(self, proposal_id: str, *, clicker: str, team: str | None, groups: frozenset[str],
             amount: Decimal) -> Result:
        """A new amount: validated against the data again; earlier approvals are dropped."""
        record = self._decidable(proposal_id, clicker, team, groups, "edit")
        if isinstance(record, Result):
            return record
        try:
            edited = record.proposal.with_amount(amount)
        except ProposalError as exc:
            return Result("invalid", record, str(exc))
        request = edited.request(self.today())
        now = self.now()
        with transaction(self.db):
            moved = self.store.transition(record.id, ("pending",), "pending", now=now, approvals=(), proposal=edited,
                                          request=request, expect_approvals=record.approvals)
            if moved:
                self._audit(replace(record, request=request), clicker, "edited", "pending", team=team,
                            detail=f"amount {record.proposal.amount} → {edited.amount} {edited.currency}")
        current = self.store.get(record.id)
        if not moved:
            return Result("already", current, _already(current) if current else "")
        return Result("edited", current, f"Amount changed to {edited.amount} {edited.currency}; it needs approval "
                                         f"again.")

    # -- housekeeping --------------------------------------------------------------------------------

    def expire_due(self) -> list[Record]:
        """pending -> expired for every proposal past its expiry; returns them (their cards need updating)."""
        out = []
        for record in self.store.expiring(self.now()):
            result = self._expire(record)
            if result.kind == "expired" and result.record:
                out.append(result.record)
        return out

    def recover(self, statuses: tuple[str, ...] = ("executing", "unknown")) -> list[Record]:
        """Settle proposals left `executing` (a crash) or `unknown` (no answer): read Zuora, re-send with the key.

        Only at start-up may `executing` be included: in a running process another thread may be
        executing it right now.
        """
        settled = []
        for record in self.store.with_status(*statuses):
            if self.now() - record.updated_at > KEY_WINDOW:
                outcome = Outcome("unknown", "Zuora's idempotency window has passed; a person must check Zuora "
                                             "before anything is re-sent.")
            else:
                outcome = reconcile(self.client, record.id, record.proposal, record.request)
            log.info("recovered proposal %s: %s", record.id, outcome.status)
            if outcome.status == record.status == "unknown":
                continue  # still no answer: nothing new to record
            settled.append(self._finish(record, outcome, "bot", action=f"recovered_{outcome.status}"))
        return settled

    def pending(self) -> list[Record]:
        return self.store.with_status("pending")

    def recent(self, limit: int = 5) -> list[Record]:
        return self.store.recent(limit=limit)

    # -- internals -----------------------------------------------------------------------------------

    def _expire(self, record: Record) -> Result:
        self._move(record.id, ("pending",), "expired", actor="bot", action="expired",
                   detail=f"not approved within {self.ttl}", outcome={"message": "Expired without a decision."})
        current = self.store.get(record.id)
        if current and current.status != "expired":
            return Result("already", current, _already(current))
        return Result("expired", current, "This proposal has expired; nothing was done. Propose it again.")

    def _finish(self, record: Record, outcome: Outcome, actor: str, *, action: str | None = None) -> Record:
        data = {"message": outcome.message, "document": outcome.document, "zuora_ids": outcome.zuora_ids,
                "by": record.approvals[-1] if record.approvals else None, "at": self.now().isoformat()}
        self._move(record.id, ("executing", "unknown"), outcome.status, actor=actor, action=action or outcome.status,
                   detail=outcome.message, outcome=data, zuora_ids=outcome.zuora_ids)
        current = self.store.get(record.id)
        assert current is not None
        return current

    def _move(self, proposal_id: str, from_: tuple[str, ...], to: str, *, actor: str, action: str, detail: str,
              outcome: dict[str, object] | None = None, zuora_ids: dict[str, str] | None = None,
              team: str | None = None) -> bool:
        with transaction(self.db):
            record = self.store.get(proposal_id)
            moved = record is not None and self.store.transition(proposal_id, from_, to, now=self.now(),
                                                                 outcome=outcome)
            if moved and record is not None:
                self._audit(record, actor, action, to, detail=detail, zuora_ids=zuora_ids, team=team)
        return moved

    def _decidable(self, proposal_id: str, clicker: str, team: str | None, groups: frozenset[str],
                   verb: str) -> Record | Result:
        """The pending proposal `clicker` may reject or edit (the requester or an approver), else why not."""
        record = self.store.get(proposal_id)
        if record is None:
            return Result("not_found", None, "This proposal no longer exists.")
        if record.status != "pending":
            return Result("already", record, _already(record))
        same_team = not team or team == record.team
        if not same_team or not (clicker == record.requester or self.policy.is_approver(clicker, groups)):
            with transaction(self.db):
                self._audit(record, clicker, f"{verb}_denied", "denied", team=team,
                            detail=f"only the requester or an approver may {verb}")
            return Result("denied", record, f"Only the requester or an approver can {verb} this.")
        return record

    def _audit(self, record: Record, actor: str, action: str, outcome: str, *, detail: str = "",
               zuora_ids: dict[str, str] | None = None, team: str | None = None) -> None:
        self.audit.append(at=self.now().astimezone(UTC), actor=actor, team=team or record.team,
                          channel=record.channel, proposal_id=record.id, action=action, outcome=outcome,
                          request_hash=record.request.digest(), zuora_ids=zuora_ids, detail=detail)
        if self.on_change is not None and not action.endswith(("_denied", "_refused")):
            self.on_change(record, action, outcome)


def _already(record: Record) -> str:
    by = (record.outcome or {}).get("by") or (record.approvals[-1] if record.approvals else None)
    who = f" by <@{by}>" if by else ""
    words = {"executing": f"is being executed{who}", "succeeded": f"was approved{who} and done",
             "failed": f"was approved{who} but Zuora refused it", "unknown": f"was approved{who}; Zuora's answer "
             "is being checked", "rejected": f"was rejected{who}", "expired": "has expired",
             "stale": "was not executed: the object changed"}
    return f"This proposal {words.get(record.status, record.status)}."
