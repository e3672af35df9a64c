"""The audit mirror: every audit row copied to Zuora's `AI_Audit_Log` custom object (zuora-api-2.md §25).

Zuora is the anchor the database cannot rewrite: `compare()` reads the records back and names rows
the database lost (truncated, deleted), rows whose hash differs from the copy (a recomputed chain)
and rows Zuora never received (forged, or not yet flushed). `flush()` sends the rows after the last
mirrored one in batches (≤1,000 records per call), each batch with its own `Idempotency-Key`, so a
retry or a crash mid-flush never makes duplicates (`EventKey__c`, the row hash, is also unique).
The high-water mark lives in `kv` (`audit_mirror_seq`). With `REDACT_PII`, the copilot's question
is sent as its SHA-256 only.

    bot.zuora.errors.ZuoraError    Zuora could not be written or read (the caller logs it; rows wait)
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.actions.audit import AuditLog, AuditRow
from bot.money import count
from bot.storage import locked
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraNotFound

__all__ = ["DEFINITION", "OBJECT", "AuditMirror"]

log = logging.getLogger(__name__)

OBJECT = "AI_Audit_Log"
_KV = "audit_mirror_seq"
_LONG = 8192


def _field(kind: str, label: str, length: int | None = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": kind, "label": label, **extra}
    if length:
        spec["maxLength"] = length
    return spec


DEFINITION: dict[str, Any] = {OBJECT: {
    "object": OBJECT, "label": "AI Audit Log",
    "properties": {
        "EventKey__c": _field("string", "Event key", 128),
        "ProposalId__c": _field("string", "Proposal ID", 64),
        "Stage__c": _field("string", "Stage", 32, enum=["proposed", "approved", "rejected", "executed", "failed"]),
        "Actor__c": _field("string", "Actor", 255),
        "ActionType__c": _field("string", "Action type", 64),
        "AccountNumber__c": _field("string", "Account number", 70),
        "TargetKey__c": _field("string", "Target object key", 64),
        "Decision__c": _field("string", "Decision and rationale", _LONG),
        "Prompt__c": _field("string", "Prompt", _LONG),
        "InputData__c": _field("string", "Input data (JSON)", _LONG),
        "ApiCall__c": _field("string", "Resulting API call", _LONG),
        "ApiResult__c": _field("string", "API result", _LONG),
        "Amount__c": _field("number", "Amount"),
        "OccurredAt__c": _field("string", "Occurred at", format="date-time")},
    "required": ["EventKey__c", "ProposalId__c", "Stage__c", "Actor__c", "ActionType__c"],
    "filterable": ["EventKey__c", "ProposalId__c", "Stage__c", "Actor__c", "ActionType__c", "AccountNumber__c",
                   "TargetKey__c", "OccurredAt__c"],
    "unique": ["EventKey__c"]}}

_STAGES = {"proposed": "proposed", "edited": "proposed", "approved": "approved", "executing": "approved",
           "succeeded": "executed", "recovered_succeeded": "executed", "failed": "failed",
           "recovered_failed": "failed", "unknown": "failed", "recovered_unknown": "failed", "held": "failed"}


def _stage(action: str) -> str:
    return _STAGES.get(action, "approved" if action.startswith("approve") else "rejected")


class AuditMirror:
    def __init__(self, client: ZuoraClient, audit: AuditLog, *, redact: bool = True, batch: int = 200) -> None:
        self.client = client
        self.audit = audit
        self.redact = redact
        self.batch = min(max(batch, 1), 1000)
        self._defined = False

    @property
    def mirrored_seq(self) -> int:
        row = self.audit.db.execute("select value from kv where key = ?", [_KV]).fetchone()
        return int(row[0]) if row else 0

    def ensure_defined(self) -> None:
        """Define `AI_Audit_Log` once (Zuora refuses to re-post a definition: look first)."""
        if self._defined:
            return
        try:
            self.client.custom_objects.definition(OBJECT)
        except ZuoraNotFound:
            self.client.custom_objects.define(DEFINITION, idempotency_key="ai-audit-log-definition-v1")
        self._defined = True

    def flush(self) -> int:
        """Send every row not yet mirrored; returns how many were sent. Raises `ZuoraError` (rows then wait)."""
        self.ensure_defined()
        sent = 0
        while True:
            rows = []
            for row in self.audit.rows(after_seq=self.mirrored_seq):
                rows.append(row)
                if len(rows) == self.batch:
                    break
            if not rows:
                return sent
            key = f"audit-{rows[0].seq}-{rows[-1].seq}-{rows[-1].hash[:16]}"
            self.client.custom_objects.create_records(OBJECT, [self.record(r) for r in rows], idempotency_key=key)
            with locked(self.audit.db):
                self.audit.db.execute(
                    "insert into kv (key, value, updated_at) values (?, ?, ?) on conflict(key) do update set "
                    "value = excluded.value, updated_at = excluded.updated_at "
                    "where cast(kv.value as integer) < cast(excluded.value as integer)",  # another instance's
                    # flush may have gone further meanwhile: the mark never moves back
                    [_KV, str(rows[-1].seq), datetime.now(UTC).isoformat()])
            sent += len(rows)

    def record(self, row: AuditRow) -> dict[str, Any]:
        """One audit row as an `AI_Audit_Log` record (null, never "", for absent values)."""
        context = json.loads(row.context) if row.context else {}
        question = context.get("question")
        if question and self.redact:
            question = f"redacted (REDACT_PII): sha256={hashlib.sha256(question.encode()).hexdigest()}"
        decision = " · ".join(x for x in (context.get("decision"), row.detail) if x)
        call = f"{row.method} {row.path} body sha256={row.request_hash}" if row.method else \
            (f"request sha256={row.request_hash}" if row.request_hash else None)
        amount = context.get("amount")
        return {
            "EventKey__c": row.hash, "ProposalId__c": row.proposal_id or "-", "Stage__c": _stage(row.action),
            "Actor__c": row.actor[:255], "ActionType__c": f"{row.kind or 'proposal'}:{row.action}"[:64],
            "AccountNumber__c": (context.get("account_number") or None),
            "TargetKey__c": (context.get("target") or None), "Decision__c": decision[:_LONG] or None,
            "Prompt__c": question[:_LONG] if question else None,
            "InputData__c": json.dumps({"seq": row.seq, "version": row.version, "team": row.team,
                                        "channel": row.channel, "body_hash": row.body_hash,
                                        "prev_hash": row.prev_hash, "at": row.at}, sort_keys=True),
            "ApiCall__c": call, "ApiResult__c": json.dumps({"outcome": row.outcome,
                                                            "zuora_ids": json.loads(row.zuora_ids or "{}")})[:_LONG],
            "Amount__c": Decimal(amount) if amount is not None else None, "OccurredAt__c": row.at}

    def compare(self) -> list[str]:
        """The database against the mirror: one line per problem (empty when they agree)."""
        mirrored: dict[int, str] = {}
        for record in self.client.custom_objects.records(OBJECT, page_size=1000):
            try:
                seq = int(json.loads(record.get("InputData__c") or "{}").get("seq"))
            except (TypeError, ValueError):
                continue
            mirrored[seq] = str(record.get("EventKey__c"))
        rows = {r.seq: r for r in self.audit.rows()}
        problems = []
        missing = sorted(s for s in mirrored if s not in rows)
        if missing:
            problems.append(f"rows {missing[0]}–{missing[-1]} are in Zuora's {OBJECT} but not in the database "
                            f"({len(missing)} deleted or truncated)")
        differ = sorted(s for s in mirrored if s in rows and rows[s].hash != mirrored[s])
        if differ:
            problems.append(f"row {differ[0]}: differs from Zuora's {OBJECT} copy (changed, or the chain was "
                            f"recomputed; {count(len(differ), 'row')})")
        top = max(mirrored) if mirrored else 0
        unknown = sorted(s for s in rows if s not in mirrored)
        forged = [s for s in unknown if s < top]
        if forged:
            problems.append(f"row {forged[0]}: not in Zuora's {OBJECT} though later rows are (forged; "
                            f"{count(len(forged), 'row')})")
        tail = [s for s in unknown if s > top]
        if tail:
            problems.append(f"rows {tail[0]}–{tail[-1]} are not in Zuora's {OBJECT} (forged, or not mirrored yet: "
                            f"let serve flush, then verify again)")
        return problems
