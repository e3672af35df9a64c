"""The approval state machine: open, approve (claim, stale check, execute), reject, edit, expire, recover.

    pending -> approved -> executing -> succeeded | failed | unknown
    pending -> rejected | expired ;  executing | unknown -> stale | expired (checked before anything is sent)

A proposal has a version: an edit makes a new one and voids earlier approvals, and every click
names the version its card showed. Every transition is one conditional update (on id, status,
version and the approvals seen) committed together with its audit row, so double clicks, two
processes, replays and clicks on an outdated card run at most the version the approver saw.
Denied clicks are audited too and change nothing else. `approve()` only claims; `run()` does the
Zuora part, so the caller can show "executing" on the card in between.

One path to Zuora (`_send_checked`): a click's run, the start-up recovery and the minute sweep all
check READ_ONLY, expiry and the stale re-read before sending. A proposal that may already have
been sent (a crash, a lost answer) is first looked up in Zuora (`find`); a PUT sent less than
`put_grace` ago is never sent again (it may still land): the next sweep looks again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

import sqlite_utils

from bot.actions.audit import AuditLog
from bot.actions.drafts import Drafts
from bot.actions.executor import Outcome, execute, find
from bot.actions.kinds import Proposal, ProposalError
from bot.actions.policy import Policy
from bot.actions.store import Record, Store
from bot.storage import transaction
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraError

__all__ = ["CHANGED", "Approvals", "Result", "unaudited"]

log = logging.getLogger(__name__)

ResultKind = Literal["claimed", "waiting", "done", "denied", "already", "expired", "read_only", "invalid",
                     "not_found", "rejected", "edited", "stale", "changed"]
KEY_WINDOW = timedelta(hours=23)
"""Zuora keeps an Idempotency-Key's answer for 24 h; past this, a re-send could run twice."""
CHANGED = "This card changed; look again."
_CLAIM_TRIES = 8
"""Concurrent approvals of one proposal retry their conditional update this many times."""


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


class Approvals:
    def __init__(self, db: sqlite_utils.Database, client: ZuoraClient, policy: Policy, *, read_only: bool = False,
                 ttl: timedelta = timedelta(hours=24), now: Callable[[], datetime] = _utc_now,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex, today: Callable[[], date] = date.today,
                 put_grace: timedelta = timedelta(minutes=5), audit: AuditLog | None = None) -> None:
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
        self.on_change: Callable[[Record, str, str], None] | None = None
        """Called inside the transaction of each transition, with the action and the new status (the
        outbox records there what the card still needs, see `bot.slack.notifier`)."""

    def drafts(self) -> Drafts:
        return Drafts(self.client, self.today())

    # -- opening -----------------------------------------------------------------------------------

    def open(self, proposal: Proposal, *, requester: str, team: str, channel: str, question: str | None = None,
             decision: str | None = None, proposal_id: str | None = None) -> Record:
        """Store a pending proposal (audited as `proposed`, with the question and model decision if any); with
        `proposal_id`, once (the outbox retries)."""
        if proposal_id and (existing := self.store.get(proposal_id)) is not None:
            return existing
        now = self.now()
        proposal_id = proposal_id or self.new_id()
        record = Record(id=proposal_id, status="pending", proposal=proposal,
                        request=proposal.request(self.today(), ref=proposal_id),
                        requester=requester, team=team, channel=channel, message_ts=None, approvals=(), outcome=None,
                        created_at=now, expires_at=now + self.ttl, updated_at=now)
        with transaction(self.db):
            self.store.insert(record)
            self._audit(record, requester, "proposed", "pending", detail=proposal.sentence(), question=question,
                        decision=decision)
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

    def approve(self, proposal_id: str, *, clicker: str, team: str | None, groups: frozenset[str],
                version: int | None) -> Result:
        """Check the clicker and claim the version they saw; `run()` then executes a `claimed` result.

        Concurrent approvals by different people all count: a conditional update that lost to
        another approval re-reads and tries again with the approvals as they now are.
        """
        record = self.store.get(proposal_id)
        first_look = True
        for _ in range(_CLAIM_TRIES):
            if record is None:
                return Result("not_found", None, "This proposal no longer exists.")
            if record.version != version:
                if first_look:
                    with transaction(self.db):
                        self._audit(record, clicker, "approve_outdated", "denied", team=team,
                                    detail=f"clicked version {version}; the proposal is at version {record.version}")
                return Result("changed", record, CHANGED)
            if record.status != "pending":
                return Result("already", record, _already(record))
            if self.now() >= record.expires_at:
                return self._expire(record)
            if not self._as_audited(record):
                fresh = self.store.get(proposal_id)
                if fresh is not None and (fresh.version, fresh.body_hash) != (record.version, record.body_hash):
                    record = fresh  # an edit landed while we looked: look again
                    continue
                return Result("denied", record, "This proposal was changed outside the app; nothing runs. Propose "
                                                "it again.")
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
                return Result("read_only", record,
                              "The bot is in read-only mode (READ_ONLY=true): nothing is executed.")
            approvals = (*record.approvals, clicker)
            needed = self.policy.approvals_needed(p.kind, p.amount)
            before = f" after <@{record.approvals[-1]}>" if record.approvals else ""
            if len(approvals) < needed:
                with transaction(self.db):
                    moved = self.store.transition(record.id, ("pending",), "pending", now=self.now(),
                                                  approvals=approvals, expect_approvals=record.approvals,
                                                  expect_version=record.version)
                    if moved:
                        self._audit(record, clicker, "approved", f"{len(approvals)} of {needed}", team=team,
                                    detail=decision.reason)
                if moved:
                    return Result("waiting", self.store.get(record.id),
                                  f"Approved ({len(approvals)} of {needed}). Another, different approver is needed "
                                  f"before it runs.")
            else:
                # dated today (a payment's effective date must be the day it runs); same proposal, same version
                request = p.request(self.today(), ref=record.id)
                with transaction(self.db):
                    claimed = self.store.transition(record.id, ("pending",), "executing", now=self.now(),
                                                    approvals=approvals, expect_approvals=record.approvals,
                                                    expect_version=record.version, request=request)
                    if claimed:
                        self._audit(record, clicker, "approved", f"{len(approvals)} of {needed}", team=team,
                                    detail=decision.reason)
                        current = self.store.get(record.id)
                        assert current is not None
                        self._audit(current, clicker, "executing", "executing", team=team)
                if claimed:
                    return Result("claimed", self.store.get(record.id),
                                  f"Approved{before}; running it in Zuora now.")
            record, first_look = self.store.get(proposal_id), False  # someone else moved it first: look again
        current = self.store.get(proposal_id)
        return Result("already", current, _already(current) if current else "")

    def autopilot(self, proposal_id: str) -> Result:
        """Claim and run, without a click, a pending proposal drafted for the autopilot (`NOTE_AUTOPILOT`): only a
        kind whose `autopilot` flag is set; audited as approved by `autopilot`; READ_ONLY still refuses."""
        record = self.store.get(proposal_id)
        if record is None:
            return Result("not_found", None, "This proposal no longer exists.")
        if not getattr(record.proposal, "autopilot", False):
            return Result("denied", record, "This proposal was not drafted for the autopilot.")
        if record.status != "pending":
            return Result("already", record, _already(record))
        if self.read_only:
            with transaction(self.db):
                self._audit(record, AUTOPILOT, "approve_refused", "read_only",
                            detail="READ_ONLY is set: nothing is executed")
            return Result("read_only", record, "The bot is in read-only mode (READ_ONLY=true): nothing is executed.")
        request = record.proposal.request(self.today(), ref=record.id)
        with transaction(self.db):
            claimed = self.store.transition(record.id, ("pending",), "executing", now=self.now(),
                                            approvals=(AUTOPILOT,), expect_approvals=record.approvals,
                                            expect_version=record.version, request=request)
            if claimed:
                self._audit(record, AUTOPILOT, "approved", "autopilot", detail="applied by the autopilot")
                current = self.store.get(record.id)
                assert current is not None
                self._audit(current, AUTOPILOT, "executing", "executing")
        claimed_record = self.store.get(record.id)
        if not claimed or claimed_record is None:
            return Result("already", claimed_record, _already(claimed_record) if claimed_record else "")
        return self.run(claimed_record)

    def run(self, record: Record) -> Result:
        """Execute a claimed proposal through the one checked path to Zuora, and record what happened."""
        current = self.store.get(record.id)
        if current is None or current.status != "executing" or current.version != record.version:
            return Result("already", current, _already(current) if current else "This proposal no longer exists.")
        return self._send_checked(current, resumed=False)

    def reject(self, proposal_id: str, *, clicker: str, team: str | None, groups: frozenset[str],
               reason: str, version: int | None = None) -> Result:
        record = self._decidable(proposal_id, clicker, team, groups, "reject", version)
        if isinstance(record, Result):
            return record
        reason = reason.strip() or "no reason given"
        moved = self._move(record.id, ("pending",), "rejected", actor=clicker, action="rejected", detail=reason,
                           outcome={"message": reason, "by": clicker}, team=team, expect_version=record.version)
        current = self.store.get(record.id)
        if not moved:
            return self._lost(current, record.version)
        return Result("rejected", current, "Rejected.")

    def edit(self, proposal_id: str, *, clicker: str, team: str | None, groups: frozenset[str],
             amount: Decimal | None = None, version: int | None = None, text: str | None = None) -> Result:
        """A new amount (or, for a kind with editable text, a new text) makes a new version: validated against the
        data again; earlier approvals are void."""
        record = self._decidable(proposal_id, clicker, team, groups, "edit", version)
        if isinstance(record, Result):
            return record
        try:
            if text is not None:
                edited = record.proposal.with_text(text)
            elif amount is not None:
                edited = record.proposal.with_amount(amount)
            else:
                raise ProposalError("Nothing to change.")
        except ProposalError as exc:
            return Result("invalid", record, str(exc))
        request = edited.request(self.today(), ref=record.id)
        with transaction(self.db):
            moved = self.store.transition(record.id, ("pending",), "pending", now=self.now(), approvals=(),
                                          proposal=edited, request=request, expect_version=record.version,
                                          version=record.version + 1)
            if moved:
                current = self.store.get(record.id)
                assert current is not None
                voided = f"; approvals voided: {', '.join(record.approvals)}" if record.approvals else ""
                what = (f"text edited ({len(text)} characters)" if text is not None else
                        f"amount {record.proposal.amount} → {edited.amount} {edited.currency}")
                self._audit(current, clicker, "edited", "pending", team=team,
                            detail=f"{what} (version {record.version} → {current.version}){voided}")
        current = self.store.get(record.id)
        if not moved:
            return self._lost(current, record.version)
        if text is not None:
            return Result("edited", current, "Text changed; it needs approval again.")
        return Result("edited", current, f"Amount changed to {edited.amount} {edited.currency}; it needs approval "
                                         f"again.")

    def openable(self, proposal_id: str, version: int | None) -> Record | Result:
        """The pending proposal at `version` (e.g. before opening the edit modal), else why not; expires it if due."""
        record = self.store.get(proposal_id)
        if record is None:
            return Result("not_found", None, "This proposal no longer exists.")
        if version is not None and record.version != version:
            return Result("changed", record, CHANGED)
        if record.status != "pending":
            return Result("already", record, _already(record))
        if self.now() >= record.expires_at:
            return self._expire(record)
        return record

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
        """Settle proposals left `executing` (a crash) or `unknown` (no answer) through the checked path.

        Only at start-up may `executing` be included: in a running process another thread may be
        executing it right now. Returns the proposals whose state changed.
        """
        return self._settle(self.store.with_status(*statuses))

    def recover_stuck(self, older_than: timedelta = timedelta(minutes=10)) -> list[Record]:
        """Settle proposals `executing` for longer than any execution takes (its thread died, the process lives)."""
        cutoff = self.now() - max(older_than, self.put_grace)
        return self._settle([r for r in self.store.with_status("executing") if r.updated_at < cutoff])

    def _settle(self, records: list[Record]) -> list[Record]:
        settled = []
        for record in records:
            result = self._send_checked(record, resumed=True)
            if result.record is not None and (result.record.status != record.status or
                                              result.record.outcome != record.outcome):
                log.info("recovered proposal %s: %s → %s", record.id, record.status, result.record.status)
                settled.append(result.record)
        return settled

    def pending(self) -> list[Record]:
        return self.store.with_status("pending")

    def recent(self, limit: int = 5) -> list[Record]:
        return self.store.recent(limit=limit)

    # -- the one path to Zuora -------------------------------------------------------------------------

    def _send_checked(self, record: Record, *, resumed: bool) -> Result:
        """READ_ONLY, expiry, the stale re-read, then send once; `resumed`: it may have been sent already."""
        actor = "bot" if resumed else (record.approvals[-1] if record.approvals else "bot")
        prefix = "recovered_" if resumed else ""
        if resumed:
            try:
                found = find(self.client, record.id, record.proposal)
            except ZuoraError as exc:
                return self._hold(record, f"Zuora could not be read ({type(exc).__name__}); checked again at the "
                                          f"next sweep.")
            if found is not None:
                return Result("done", self._finish(record, found, actor, action=f"{prefix}{found.status}"),
                              found.message)
        if self.read_only:
            return self._hold(record, "READ_ONLY is set: nothing was sent to Zuora; it is checked again (expiry, "
                                      "changes) once READ_ONLY is off.")
        if self.now() >= record.expires_at:
            message = "Not executed: it expired before it could run; nothing was sent."
            self._move(record.id, ("executing", "unknown"), "expired", actor=actor, action=f"{prefix}expired",
                       detail=message, outcome={"message": message})
            return Result("expired", self.store.get(record.id), message)
        if resumed and record.sent_at is not None:
            if record.request.method == "PUT" and self.now() - record.sent_at < self.put_grace:
                return self._hold(record, "Zuora may still be running the request sent before the restart; it is "
                                          "looked up again before anything is re-sent.")
            if record.request.method == "POST" and self.now() - record.sent_at > KEY_WINDOW:
                return self._hold(record, "Zuora's idempotency window has passed; a person must check Zuora before "
                                          "anything is re-sent.")
        if not self._as_audited(record):
            outcome = Outcome("failed", "Not executed: the stored request is not the version the approver saw "
                                        "(changed outside the app); nothing was sent.")
            return Result("done", self._finish(record, outcome, actor), outcome.message)
        try:
            now_seen = record.proposal.reread(self.client, now=self.now(), today=self.today())
        except ZuoraError as exc:
            if resumed:
                return self._hold(record, f"Zuora could not be read ({type(exc).__name__}); checked again at the "
                                          f"next sweep.")
            outcome = Outcome("failed", f"Zuora could not be read before executing ({type(exc).__name__}); nothing "
                                        f"was sent. Propose it again.")
            return Result("done", self._finish(record, outcome, actor), outcome.message)
        changed = record.proposal.snapshot.differences(now_seen)
        if changed:
            message = f"Not executed: {record.proposal.target} changed since the card was made ({'; '.join(changed)})."
            self._move(record.id, ("executing", "unknown"), "stale", actor=actor, action=f"{prefix}stale",
                       detail=message, outcome={"message": message})
            return Result("stale", self.store.get(record.id), message)
        with transaction(self.db):
            self.store.mark_sent(record.id, self.now())
        outcome = execute(self.client, record.id, record.proposal, record.request)
        if outcome.status == record.status == "unknown":
            return Result("already", record, outcome.message)  # still no answer: nothing new to record
        action = f"{prefix}{outcome.status}" if resumed else None
        return Result("done", self._finish(record, outcome, actor, action=action), outcome.message)

    def _hold(self, record: Record, message: str) -> Result:
        """Nothing sent now: the proposal waits as `unknown` with `message` (recorded once, not on every sweep)."""
        if record.status == "unknown" and (record.outcome or {}).get("message") == message:
            return Result("already", record, message)
        self._move(record.id, ("executing", "unknown"), "unknown", actor="bot", action="held", detail=message,
                   outcome={"message": message, "by": record.approvals[-1] if record.approvals else None})
        return Result("already", self.store.get(record.id), message)

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

    def _decidable(self, proposal_id: str, clicker: str, team: str | None, groups: frozenset[str],
                   verb: str, version: int | None) -> Record | Result:
        """The pending proposal `clicker` may reject or edit (the requester or an approver), else why not."""
        record = self.openable(proposal_id, version)
        if isinstance(record, Result):
            return record
        same_team = not team or team == record.team
        if not same_team or not (clicker == record.requester or self.policy.is_approver(clicker, groups)):
            with transaction(self.db):
                self._audit(record, clicker, f"{verb}_denied", "denied", team=team,
                            detail=f"only the requester or an approver may {verb}")
            return Result("denied", record, f"Only the requester or an approver can {verb} this.")
        return record

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
