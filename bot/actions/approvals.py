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

This module is the people's side (opening, clicks, edits); the shared transition machinery is in
`bot.actions.transitions`, the path to Zuora, recovery and the sweeps in `bot.actions.settlement`.
"""

from __future__ import annotations

from decimal import Decimal

from bot.actions.kinds import Proposal, ProposalError
from bot.actions.settlement import Settlement
from bot.actions.store import Record
from bot.actions.transitions import AUTOPILOT, CHANGED, Result, _already, unaudited
from bot.storage import serialize, transaction

__all__ = ["CHANGED", "Approvals", "Result", "unaudited"]

_CLAIM_TRIES = 8
"""Concurrent approvals of one proposal retry their conditional update this many times."""


class Approvals(Settlement):
    """Opening proposals and the clicks on them (approve, reject, edit), each one audited transition."""

    # -- opening -----------------------------------------------------------------------------------

    def open(self, proposal: Proposal, *, requester: str, team: str, channel: str, question: str | None = None,
             decision: str | None = None, proposal_id: str | None = None) -> Record:
        """Store a pending proposal (audited as `proposed`, with the question and model decision if any); with
        `proposal_id`, once (the outbox retries)."""
        if proposal_id and (existing := self.store.get(proposal_id)) is not None:
            return existing
        now = self.now()
        given, proposal_id = proposal_id, proposal_id or self.new_id()
        record = Record(id=proposal_id, status="pending", proposal=proposal,
                        request=proposal.request(self.today(), ref=proposal_id),
                        requester=requester, team=team, channel=channel, message_ts=None, approvals=(), outcome=None,
                        created_at=now, expires_at=now + self.ttl, updated_at=now)
        with transaction(self.db):
            if given:  # another instance may be opening the same one: the first wins, the other gets it
                serialize(self.db, f"proposal:{proposal_id}")
                if (existing := self.store.get(proposal_id)) is not None:
                    return existing
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

    def pending(self) -> list[Record]:
        return self.store.with_status("pending")

    def recent(self, limit: int = 5) -> list[Record]:
        return self.store.recent(limit=limit)

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
