"""The audit log: one append-only, hash-chained row per transition and per denied click (owns `audit_log`).

Each row's `hash` is SHA-256 over the previous row's hash and the row's own fields, so changing or
removing a row breaks every later hash; triggers refuse UPDATE and DELETE. `append()` must run
inside the caller's transaction (`bot.storage.transaction`), with the state change it records.
`verify()` walks the chain; `export()` writes CSV or JSON Lines.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

__all__ = ["AuditLog", "AuditRow"]

_FIELDS = ("seq", "at", "actor", "team", "channel", "proposal_id", "action", "outcome", "request_hash", "zuora_ids",
           "detail", "prev_hash", "hash")
_GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: str
    actor: str
    team: str
    channel: str
    proposal_id: str | None
    action: str
    outcome: str
    request_hash: str | None
    zuora_ids: str
    detail: str
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _FIELDS}


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


class AuditLog:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def append(self, *, at: datetime, actor: str, team: str, channel: str, proposal_id: str | None, action: str,
               outcome: str, request_hash: str | None = None, zuora_ids: dict[str, str] | None = None,
               detail: str = "") -> None:
        """Add one row (inside the caller's transaction); `at` must be timezone-aware UTC."""
        last = self.db.execute("select hash from audit_log order by seq desc limit 1").fetchone()
        prev = last[0] if last else _GENESIS
        fields = {"at": at.isoformat(), "actor": actor, "team": team, "channel": channel, "proposal_id": proposal_id,
                  "action": action, "outcome": outcome, "request_hash": request_hash,
                  "zuora_ids": json.dumps(zuora_ids or {}, sort_keys=True), "detail": detail}
        self.db.execute(
            "insert into audit_log (at, actor, team, channel, proposal_id, action, outcome, request_hash, zuora_ids, "
            "detail, prev_hash, hash) values (:at, :actor, :team, :channel, :proposal_id, :action, :outcome, "
            ":request_hash, :zuora_ids, :detail, :prev_hash, :hash)",
            {**fields, "prev_hash": prev, "hash": _digest(prev, fields)})

    def rows(self, *, since: str | None = None, proposal_id: str | None = None) -> Iterator[AuditRow]:
        """Rows in order, optionally from the date `since` (yyyy-mm-dd) or for one proposal."""
        where, params = [], []
        if since:
            where.append("at >= ?")
            params.append(since)
        if proposal_id:
            where.append("proposal_id = ?")
            params.append(proposal_id)
        clause = f"where {' and '.join(where)}" if where else ""
        for row in self.db.execute(f"select {', '.join(_FIELDS)} from audit_log {clause} order by seq", params):
            yield AuditRow(*row)

    def verify(self) -> list[str]:
        """Problems in the chain (empty when intact): a changed row, a removed one, a broken link."""
        problems, prev, expected_seq = [], _GENESIS, None
        for row in self.rows():
            if expected_seq is not None and row.seq != expected_seq:
                problems.append(f"row {expected_seq}–{row.seq - 1} missing")
            if row.prev_hash != prev:
                problems.append(f"row {row.seq}: does not follow the row before it")
            fields = {f: getattr(row, f) for f in _FIELDS if f not in ("seq", "prev_hash", "hash")}
            if _digest(row.prev_hash, fields) != row.hash:
                problems.append(f"row {row.seq}: its content does not match its hash (changed after it was written)")
            prev, expected_seq = row.hash, row.seq + 1
        return problems

    def export(self, fmt: str, *, since: str | None = None) -> str:
        """The rows as `csv` or `jsonl`."""
        rows = [r.as_dict() for r in self.rows(since=since)]
        if fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
