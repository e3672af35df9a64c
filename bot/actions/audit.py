"""The audit log: one append-only, hash-chained row per transition and per denied click (owns `audit_log`).

Each row's `hash` is SHA-256 over the previous row's hash and the row's own fields (who, what,
the proposal id, version, kind, body hash and exact request), so changing or removing a row
breaks every later hash; triggers refuse UPDATE and DELETE. `append()` must run inside the
caller's transaction (`bot.storage.transaction`), with the state change it records.

Someone holding the database file can still drop the triggers, cut rows off the end, or rewrite
the whole chain. Anchors outside the database make that visible:
- with `AUDIT_KEY` (a secret kept outside the database), every row carries an HMAC of its hash
  (`mac`), so a forged or recomputed row cannot be signed, and `checkpoint()` appends a signed
  (row count, head hash) line to a file outside the database;
- the mirror (`bot.actions.mirror`) copies every row to Zuora's `AI_Audit_Log` custom object.
`verify()` checks the chain, the triggers, the row signatures and the checkpoints, and returns
one line per problem.

    sqlite3.Error, psycopg.Error   the database cannot be read (a dropped table, a broken file): the caller says so
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from bot.storage import serialize, trigger_names

if TYPE_CHECKING:
    from bot.actions.kinds import ZuoraRequest

__all__ = ["TRIGGERS", "AuditLog", "AuditRow", "Checkpoint"]

_CORE = ("at", "actor", "team", "channel", "proposal_id", "action", "outcome", "request_hash", "zuora_ids", "detail")
_EXTRA = ("version", "body_hash", "kind", "method", "path", "context")
"""Fields added later: part of the hash when set (rows written before them keep their hashes)."""
_FIELDS = ("seq", *_CORE, *_EXTRA, "prev_hash", "hash", "mac")
_GENESIS = "0" * 64
TRIGGERS = ("audit_log_no_update", "audit_log_no_delete")


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
    version: int | None
    body_hash: str | None
    kind: str | None
    method: str | None
    path: str | None
    context: str | None
    prev_hash: str
    hash: str
    mac: str | None

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _FIELDS}

    def hashed_fields(self) -> dict[str, Any]:
        fields = {f: getattr(self, f) for f in _CORE}
        fields.update({f: getattr(self, f) for f in _EXTRA if getattr(self, f) is not None})
        return fields


@dataclass(frozen=True)
class Checkpoint:
    """A signed (row count, head) pair written outside the database."""

    at: str
    count: int
    seq: int
    head: str
    sig: str


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


class AuditLog:
    def __init__(self, db: sqlite_utils.Database, *, key: str | None = None,
                 checkpoints: Path | None = None) -> None:
        self.db = db
        self.key = key.encode() if key else None
        self.checkpoints = checkpoints

    def append(self, *, at: datetime, actor: str, team: str, channel: str, proposal_id: str | None, action: str,
               outcome: str, request_hash: str | None = None, zuora_ids: dict[str, str] | None = None,
               detail: str = "", version: int | None = None, body_hash: str | None = None, kind: str | None = None,
               request: ZuoraRequest | None = None, amount: Decimal | None = None, account_number: str | None = None,
               target: str | None = None, question: str | None = None, decision: str | None = None) -> None:
        """Add one row (inside the caller's transaction); `at` must be timezone-aware UTC."""
        serialize(self.db, "audit_log")  # the chain: read the last hash, then write after it
        last = self.db.execute("select seq, hash from audit_log order by seq desc limit 1").fetchone()
        seq, prev = (int(last[0]) + 1, last[1]) if last else (1, _GENESIS)  # numbered here: a PostgreSQL
        # sequence would leave gaps (a rolled-back transaction, a server restart) that read as deleted rows
        context = {k: v for k, v in {"amount": str(amount) if amount is not None else None,
                                     "account_number": account_number, "target": target, "question": question,
                                     "decision": decision}.items() if v is not None}
        fields: dict[str, Any] = {
            "at": at.isoformat(), "actor": actor, "team": team, "channel": channel, "proposal_id": proposal_id,
            "action": action, "outcome": outcome, "request_hash": request_hash,
            "zuora_ids": json.dumps(zuora_ids or {}, sort_keys=True), "detail": detail}
        extra = {"version": version, "body_hash": body_hash, "kind": kind,
                 "method": request.method if request else None, "path": request.path if request else None,
                 "context": json.dumps(context, sort_keys=True, ensure_ascii=False) if context else None}
        fields.update({k: v for k, v in extra.items() if v is not None})
        digest = _digest(prev, fields)
        row = {**{f: None for f in _EXTRA}, **fields, "seq": seq, "prev_hash": prev, "hash": digest,
               "mac": _sign(self.key, digest) if self.key else None}
        columns = ["seq", *_CORE, *_EXTRA, "prev_hash", "hash", "mac"]
        self.db.execute(f"insert into audit_log ({', '.join(columns)}) values ({', '.join(':' + c for c in columns)})",
                        row)

    def rows(self, *, since: str | None = None, proposal_id: str | None = None,
             after_seq: int = 0) -> Iterator[AuditRow]:
        """Rows in order, optionally from the date `since` (yyyy-mm-dd), for one proposal, or after a seq."""
        where, params = ["seq > ?"], [after_seq]
        if since:
            where.append("at >= ?")
            params.append(since)
        if proposal_id:
            where.append("proposal_id = ?")
            params.append(proposal_id)
        for row in self.db.execute(f"select {', '.join(_FIELDS)} from audit_log where {' and '.join(where)} "
                                   f"order by seq", params):
            yield AuditRow(*row)

    def bodies(self) -> dict[str, tuple[int, str]]:
        """Per proposal, the version and body hash it was given by the app (proposed, edited, claimed)."""
        out: dict[str, tuple[int, str]] = {}
        for proposal_id, version, body_hash in self.db.execute(
                "select proposal_id, version, body_hash from audit_log where proposal_id is not null and "
                "body_hash is not null and action in ('proposed', 'edited', 'executing') order by seq"):
            out[proposal_id] = (int(version), body_hash)
        return out

    def body_of(self, proposal_id: str) -> tuple[int, str] | None:
        """The version and body hash the app last gave `proposal_id` (see `bodies`)."""
        row = self.db.execute("select version, body_hash from audit_log where proposal_id = ? and body_hash is not "
                              "null and action in ('proposed', 'edited', 'executing') order by seq desc limit 1",
                              [proposal_id]).fetchone()
        return (int(row[0]), row[1]) if row else None

    def head(self) -> tuple[int, int, str]:
        """(row count, last seq, last hash)."""
        count, = self.db.execute("select count(*) from audit_log").fetchone()
        last = self.db.execute("select seq, hash from audit_log order by seq desc limit 1").fetchone()
        return int(count), int(last[0]) if last else 0, last[1] if last else _GENESIS

    # -- checkpoints (AUDIT_KEY) --------------------------------------------------------------------------

    def checkpoint(self, now: datetime | None = None) -> Checkpoint | None:
        """Append a signed (count, head) line to the checkpoint file when the head moved; None when off or unchanged."""
        if not self.key or self.checkpoints is None:
            return None
        count, seq, head = self.head()
        known = self.read_checkpoints()
        if known and (known[-1].count, known[-1].head) == (count, head):
            return None
        at = (now or datetime.now(UTC)).isoformat()
        point = Checkpoint(at, count, seq, head, _sign(self.key, f"{at}|{count}|{seq}|{head}"))
        self.checkpoints.parent.mkdir(parents=True, exist_ok=True)
        with self.checkpoints.open("a", encoding="utf-8") as out:
            out.write(json.dumps(point.__dict__) + "\n")
            out.flush()
        return point

    def read_checkpoints(self) -> list[Checkpoint]:
        if self.checkpoints is None or not self.checkpoints.exists():
            return []
        out = []
        for line in self.checkpoints.read_text(encoding="utf-8").splitlines():
            try:
                data = json.loads(line)
                out.append(Checkpoint(str(data["at"]), int(data["count"]), int(data["seq"]), str(data["head"]),
                                      str(data["sig"])))
            except (ValueError, KeyError, TypeError):
                out.append(Checkpoint("?", -1, -1, "", ""))  # unreadable: reported as not signed
        return out

    # -- verification ------------------------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Problems (empty when intact): changed, missing or forged rows, a recomputed chain, truncation, triggers."""
        problems: list[str] = []
        present = trigger_names(self.db, "audit_log")
        problems += [f"trigger {t} is missing: the log can be changed in place" for t in TRIGGERS if t not in present]
        prev, expected_seq, signed_from = _GENESIS, 1, None
        by_seq: dict[int, AuditRow] = {}
        for row in self.rows():
            by_seq[row.seq] = row
            if row.seq != expected_seq:
                problems.append(f"rows {expected_seq}–{row.seq - 1} deleted")
            if row.prev_hash != prev:
                problems.append(f"row {row.seq}: does not follow the row before it")
            if _digest(row.prev_hash, row.hashed_fields()) != row.hash:
                problems.append(f"row {row.seq}: its content does not match its hash (changed after it was written)")
            if self.key:
                if row.mac is not None:
                    signed_from = signed_from or row.seq
                    if not hmac.compare_digest(row.mac, _sign(self.key, row.hash)):
                        problems.append(f"row {row.seq}: forged (its signature does not match AUDIT_KEY)")
                elif signed_from is not None:
                    problems.append(f"row {row.seq}: forged (unsigned, after signed rows)")
            prev, expected_seq = row.hash, row.seq + 1
        problems += self._against_checkpoints(by_seq)
        return problems

    def _against_checkpoints(self, by_seq: dict[int, AuditRow]) -> list[str]:
        if not self.key or self.checkpoints is None:
            return []
        points = self.read_checkpoints()
        if not points:
            if by_seq and self.checkpoints.exists() is False and any(r.mac for r in by_seq.values()):
                return [f"checkpoint file {self.checkpoints} is missing: truncation cannot be ruled out"]
            return []
        problems = []
        for point in points:
            if not hmac.compare_digest(point.sig, _sign(self.key, f"{point.at}|{point.count}|{point.seq}|"
                                                                  f"{point.head}")):
                problems.append(f"checkpoint {point.at}: forged (its signature does not match AUDIT_KEY)")
        good = [p for p in points if hmac.compare_digest(p.sig, _sign(self.key, f"{p.at}|{p.count}|{p.seq}|{p.head}"))]
        if not good:
            return problems
        last = good[-1]
        count = len(by_seq)
        if count == 0 and last.count > 0:
            return [*problems, f"all rows deleted: the checkpoint of {last.at} saw {last.count} rows"]
        if count < last.count or (by_seq and max(by_seq) < last.seq):
            problems.append(f"truncated: the checkpoint of {last.at} saw {last.count} rows up to row {last.seq}, "
                            f"the log has {count} up to row {max(by_seq) if by_seq else 0}")
        for point in good:
            row = by_seq.get(point.seq)
            if row is not None and row.hash != point.head:
                problems.append(f"row {point.seq}: differs from the signed checkpoint of {point.at} (the chain was "
                                f"recomputed)")
                break
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
