"""Settling claimed proposals: the one checked path to Zuora, the run after a click, recovery and the sweeps.

`_send_checked` is the only way a proposal reaches the executor: READ_ONLY, expiry, the tamper check
and the stale re-read come first; a proposal that may already have been sent is looked up in Zuora
(`find`) before anything is re-sent, and a PUT sent less than `put_grace` ago waits for the next
sweep. Raises nothing across its boundary: a ZuoraError while reading holds the proposal as
`unknown` (resumed) or fails it (a click); the executor answers with an `Outcome`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.actions.executor import Outcome, execute, find
from bot.actions.store import Record
from bot.actions.transitions import Result, Transitions, _already
from bot.storage import transaction
from bot.zuora.errors import ZuoraError

__all__ = ["KEY_WINDOW", "Settlement"]

log = logging.getLogger("bot.actions.approvals")  # the logger these lines used before the split

KEY_WINDOW = timedelta(hours=23)
"""Zuora keeps an Idempotency-Key's answer for 24 h; past this, a re-send could run twice."""


class Settlement(Transitions):
    """Executing what was claimed, and settling what a crash or a lost answer left open."""

    def run(self, record: Record) -> Result:
        """Execute a claimed proposal through the one checked path to Zuora, and record what happened."""
        current = self.store.get(record.id)
        if current is None or current.status != "executing" or current.version != record.version:
            return Result("already", current, _already(current) if current else "This proposal no longer exists.")
        return self._send_checked(current, resumed=False)

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

    def recover_stuck(self, older_than: timedelta | None = None) -> list[Record]:
        """Settle proposals `executing` for longer than any execution takes (`stuck`: its thread died, the process
        lives; or, with several instances, the instance running it died)."""
        cutoff = self.now() - max(older_than or self.stuck, self.put_grace)
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
