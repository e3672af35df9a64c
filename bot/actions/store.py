"""Proposals in SQLite (owns `proposals`): rows, and state changes as conditional updates.

`transition()` is the only way a status changes: `UPDATE … WHERE id = ? AND status IN (…)`, so
of two racing callers exactly one sees its update applied. Callers wrap it, and the audit row
that records it, in one `bot.storage.transaction`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlite_utils

from bot.actions.proposals import Proposal, ZuoraRequest, parse_proposal
from bot.storage import for_update, locked
from bot.zuora.client import dumps, loads

__all__ = ["ENDED", "Record", "Status", "Store"]

Status = Literal["pending", "approved", "executing", "succeeded", "failed", "unknown", "rejected", "expired", "stale"]
ENDED = ("succeeded", "failed", "rejected", "expired", "stale")
_COLUMNS = ("id", "kind", "status", "proposal", "request", "requester", "team", "channel", "message_ts", "approvals",
            "outcome", "created_at", "expires_at", "updated_at", "version", "sent_at")


@dataclass(frozen=True)
class Record:
    """A stored proposal and its approval state."""

    id: str
    status: Status
    proposal: Proposal
    request: ZuoraRequest
    requester: str
    team: str
    channel: str
    message_ts: str | None
    approvals: tuple[str, ...]
    """Who approved so far (a large write-off needs two)."""
    outcome: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    version: int = 1
    """Bumped by every edit; a click carries the version its card showed, and only that version runs."""
    sent_at: datetime | None = None
    """When the request was last handed to Zuora (None: never sent); a PUT sent recently may still land."""

    @property
    def kind(self) -> str:
        return self.proposal.kind

    @property
    def body_hash(self) -> str:
        """SHA-256 over this version's exact request and the snapshot the approver saw."""
        canonical = json.dumps([self.request.digest(), self.proposal.snapshot.model_dump(mode="json")],
                               sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _record(row: tuple[Any, ...]) -> Record:
    data = dict(zip(_COLUMNS, row, strict=True))
    return Record(id=data["id"], status=data["status"], proposal=parse_proposal(data["proposal"]),
                  request=ZuoraRequest(**loads(data["request"])), requester=data["requester"], team=data["team"],
                  channel=data["channel"], message_ts=data["message_ts"],
                  approvals=tuple(json.loads(data["approvals"])),
                  outcome=json.loads(data["outcome"]) if data["outcome"] else None,
                  created_at=datetime.fromisoformat(data["created_at"]),
                  expires_at=datetime.fromisoformat(data["expires_at"]),
                  updated_at=datetime.fromisoformat(data["updated_at"]), version=int(data["version"]),
                  sent_at=datetime.fromisoformat(data["sent_at"]) if data["sent_at"] else None)


class Store:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def insert(self, record: Record) -> None:
        self.db.execute(
            f"insert into proposals ({', '.join(_COLUMNS)}) values ({', '.join('?' * len(_COLUMNS))})",
            [record.id, record.kind, record.status, record.proposal.model_dump_json(),
             dumps(record.request.model_dump()), record.requester, record.team, record.channel, record.message_ts,
             json.dumps(list(record.approvals)), json.dumps(record.outcome) if record.outcome else None,
             record.created_at.isoformat(), record.expires_at.isoformat(), record.updated_at.isoformat(),
             record.version, record.sent_at.isoformat() if record.sent_at else None])

    def get(self, proposal_id: str, *, lock: bool = False) -> Record | None:
        """The proposal; `lock` (inside `transaction()`): hold its row until the end, for a change based on it."""
        row = self.db.execute(f"select {', '.join(_COLUMNS)} from proposals where id = ?"
                              + (for_update(self.db) if lock else ""), [proposal_id]).fetchone()
        return _record(row) if row else None

    def transition(self, proposal_id: str, from_: tuple[str, ...], to: str, *, now: datetime,
                   approvals: tuple[str, ...] | None = None, expect_approvals: tuple[str, ...] | None = None,
                   outcome: dict[str, Any] | None = None, proposal: Proposal | None = None,
                   request: ZuoraRequest | None = None, expect_version: int | None = None,
                   version: int | None = None) -> bool:
        """Move `proposal_id` from one of `from_` to `to` (and set the given columns); True if this call did it.

        `expect_version` / `expect_approvals` make it conditional on the version and approvals the
        caller saw, in the same statement (a claim is one conditional update).
        """
        sets, params = ["status = ?", "updated_at = ?"], [to, now.isoformat()]
        if version is not None:
            sets.append("version = ?")
            params.append(version)
        if approvals is not None:
            sets.append("approvals = ?")
            params.append(json.dumps(list(approvals)))
        if outcome is not None:
            sets.append("outcome = ?")
            params.append(json.dumps(outcome))
        if proposal is not None:
            sets.append("proposal = ?")
            params.append(proposal.model_dump_json())
        if request is not None:
            sets.append("request = ?")
            params.append(dumps(request.model_dump()))
        where = f"id = ? and status in ({', '.join('?' * len(from_))})"
        params += [proposal_id, *from_]
        if expect_approvals is not None:
            where += " and approvals = ?"
            params.append(json.dumps(list(expect_approvals)))
        if expect_version is not None:
            where += " and version = ?"
            params.append(expect_version)
        cursor = self.db.execute(f"update proposals set {', '.join(sets)} where {where}", params)
        return cursor.rowcount == 1

    def mark_sent(self, proposal_id: str, now: datetime) -> None:
        """Record that the request is about to go to Zuora (inside the caller's transaction)."""
        self.db.execute("update proposals set sent_at = ? where id = ?", [now.isoformat(), proposal_id])

    def set_outcome(self, proposal_id: str, outcome: dict[str, Any], now: datetime) -> None:
        """Replace the outcome of an ended proposal without changing its status (what a follow-up found out);
        inside the caller's transaction, with the audit row that records it."""
        self.db.execute("update proposals set outcome = ?, updated_at = ? where id = ?",
                        [json.dumps(outcome), now.isoformat(), proposal_id])

    def set_card(self, proposal_id: str, channel: str, message_ts: str) -> None:
        with locked(self.db):
            self.db.execute("update proposals set channel = ?, message_ts = ? where id = ?",
                            [channel, message_ts, proposal_id])

    def with_status(self, *statuses: str) -> list[Record]:
        rows = self.db.execute(f"select {', '.join(_COLUMNS)} from proposals where status in "
                               f"({', '.join('?' * len(statuses))}) order by created_at", list(statuses)).fetchall()
        return [_record(r) for r in rows]

    def expiring(self, now: datetime) -> list[Record]:
        rows = self.db.execute(f"select {', '.join(_COLUMNS)} from proposals where status = 'pending' and "
                               f"expires_at <= ? order by expires_at", [now.isoformat()]).fetchall()
        return [_record(r) for r in rows]

    def on_card(self, channel: str, message_ts: str) -> list[Record]:
        """The proposals shown on one message (several on a digest)."""
        rows = self.db.execute(f"select {', '.join(_COLUMNS)} from proposals where channel = ? and message_ts = ? "
                               f"order by created_at, id", [channel, message_ts]).fetchall()
        return [_record(r) for r in rows]

    def all(self) -> list[Record]:
        """Every proposal (for the audit cross-check)."""
        rows = self.db.execute(f"select {', '.join(_COLUMNS)} from proposals order by created_at").fetchall()
        return [_record(r) for r in rows]

    def recent(self, *, limit: int = 5) -> list[Record]:
        rows = self.db.execute(f"select {', '.join(_COLUMNS)} from proposals where status in "
                               f"({', '.join('?' * len(ENDED))}) order by updated_at desc limit ?",
                               [*ENDED, limit]).fetchall()
        return [_record(r) for r in rows]
