"""The recorded transition: one conditional status change of a stored proposal, committed with its audit row.

The base of `Approvals` (`bot.actions.approvals`): the state it holds (store, audit log, Zuora client,
policy, clocks), the one way a proposal changes status (`_move`: a row lock, the conditional update
and the audit row in one transaction, then `on_change`), the audit row itself (`_audit`), expiry of a
pending proposal, the tamper check against the audit log (`_as_audited`, `unaudited`) and the
`Result` a click gets back. Raises nothing of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import sqlite_utils

from bot.actions.audit import AuditLog
from bot.actions.drafts import Drafts
from bot.actions.executor import Outcome
from bot.actions.policy import Policy
from bot.actions.store import Record, Store
from bot.storage import transaction
from bot.zuora import ZuoraClient

__all__ = ["AUTOPILOT", "CHANGED", "Result", "Transitions", "unaudited"]

ResultKind = Literal["claimed", "waiting", "done", "denied", "already", "expired", "read_only", "invalid",
                     "not_found", "rejected", "edited", "stale", "changed"]
CHANGED = "This card changed; look again."


@dataclass(frozen=True)
class Result:
    """What a click did: the kind, the record as it now stands, and a sentence for the clicker."""

    kind: ResultKind
    record: Record | None
    message: str = ""


AUTOPILOT = "autopilot"
"""The actor the audit names for proposals applied without a click."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Transitions:
    """What every approval step shares: its state, and the audited, conditional move between statuses."""

    def __init__(self, db: sqlite_utils.Database, client: ZuoraClient, policy: Policy, *, read_only: bool = False,
                 ttl: timedelta = timedelta(hours=24), now: Callable[[], datetime] = _utc_now,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex, today: Callable[[], date] = date.today,
                 put_grace: timedelta = timedelta(minutes=5), stuck: timedelta = timedelta(minutes=10),
                 audit: AuditLog | None = None) -> None:
        self.db = db
        self.store = Store(db)
        self.audit = audit or AuditLog(db)
        self.client = client
        self.policy = policy
        self.read_only = read_only
        self.ttl = ttl
        self.now = now
        self.new_id = new_id
        self.today = today
        self.put_grace = put_grace
        self.stuck = stuck
        self.on_change: Callable[[Record, str, str], None] | None = None
        """Called inside the transaction of each transition, with the action and the new status (the
        outbox records there what the card still needs, see `bot.slack.notifier`)."""

    def drafts(self) -> Drafts:
        return Drafts(self.client, self.today())

    # -- internals -----------------------------------------------------------------------------------

    def _as_audited(self, record: Record) -> bool:
        """Whether the stored version and request are the ones the audit log gave it (not edited in the file)."""
        audited = self.audit.body_of(record.id)
        return audited is None or audited == (record.version, record.body_hash)

    def _lost(self, current: Record | None, version: int) -> Result:
        if current is not None and current.version != version:
            return Result("changed", current, CHANGED)
        return Result("already", current, _already(current) if current else "")

    def _expire(self, record: Record) -> Result:
        self._move(record.id, ("pending",), "expired", actor="bot", action="expired",
                   detail=f"not approved within {self.ttl}",
                   outcome={"message": "Expired without a decision; nothing was done."})
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
              team: str | None = None, expect_version: int | None = None) -> bool:
        with transaction(self.db):
            record = self.store.get(proposal_id, lock=True)  # audited as it is when moved (PostgreSQL: row lock)
            moved = record is not None and self.store.transition(proposal_id, from_, to, now=self.now(),
                                                                 outcome=outcome, expect_version=expect_version)
            if moved and record is not None:
                self._audit(record, actor, action, to, detail=detail, zuora_ids=zuora_ids, team=team)
        return moved

    def _audit(self, record: Record, actor: str, action: str, outcome: str, *, detail: str = "",
               zuora_ids: dict[str, str] | None = None, team: str | None = None, question: str | None = None,
               decision: str | None = None) -> None:
        self.audit.append(at=self.now().astimezone(UTC), actor=actor, team=team or record.team,
                          channel=record.channel, proposal_id=record.id, action=action, outcome=outcome,
                          request_hash=record.request.digest(), zuora_ids=zuora_ids, detail=detail,
                          version=record.version, body_hash=record.body_hash, kind=record.kind,
                          request=record.request, amount=record.proposal.amount,
                          account_number=record.proposal.account_number, target=record.proposal.target,
                          question=question, decision=decision)
        if self.on_change is not None and not action.endswith(("_denied", "_refused")):
            self.on_change(record, action, outcome)


def unaudited(store: Store, audit: AuditLog) -> list[str]:
    """Proposals whose stored version or request differs from the audit log (edited outside the app)."""
    bodies = audit.bodies()
    problems = []
    for record in store.all():
        seen = bodies.get(record.id)
        if seen is None:
            continue  # written before versions were audited
        if seen != (record.version, record.body_hash):
            problems.append(f"proposal {record.id}: its stored request (version {record.version}) is not the one "
                            f"the audit log records (version {seen[0]}): changed outside the app")
    return problems


def _already(record: Record) -> str:
    by = (record.outcome or {}).get("by") or (record.approvals[-1] if record.approvals else None)
    who = f" by <@{by}>" if by else ""
    words = {"executing": f"is being executed{who}", "succeeded": f"was approved{who} and done",
             "failed": f"was approved{who} but Zuora refused it", "unknown": f"was approved{who}; Zuora's answer "
             "is being checked", "rejected": f"was rejected{who}", "expired": "has expired",
             "stale": "was not executed: the object changed",
             "pending": f"is still waiting for a decision (approved so far{who})"}
    return f"This proposal {words.get(record.status, record.status)}."