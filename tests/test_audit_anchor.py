"""Tampering with the audit log, caught against anchors outside the database: signed rows and checkpoints
(`AUDIT_KEY`), and the mirror in Zuora's `AI_Audit_Log` custom object (the sandbox serves it)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.actions import Approvals
from bot.actions.audit import AuditLog, _digest
from bot.actions.mirror import OBJECT, AuditMirror
from bot.config import redact_url
from bot.sandbox import ZuoraSandbox
from bot.storage import Database, is_postgres, open_db
from bot.zuora import ZuoraClient
from tests.test_approvals import APPROVER, REP, TEAM, Clock, approvals_for, approve, credit

pytestmark = pytest.mark.both_databases

KEY = "audit-key-outside-the-db-0123456789"


@pytest.fixture
def wall() -> Clock:
    return Clock()


def busy(approvals: Approvals, n: int = 3) -> None:
    """A few proposals through their life: proposed, approved, run; one rejected."""
    for _ in range(n):
        record = approvals.open(credit(approvals, "5.00"), requester=REP, team=TEAM, channel="C0",
                                question="credit INV-448 5 for jane@example.com", decision="propose_credit_memo")
        approvals.run(approve(approvals, record.id).record)  # type: ignore[arg-type]
    other = approvals.open(credit(approvals, "5.00"), requester=REP, team=TEAM, channel="C0")
    approvals.reject(other.id, clicker=APPROVER, team=TEAM, groups=frozenset(), reason="no", version=1)


def signed(database: str, tmp_path: Path, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> Approvals:
    audit_db = open_db(database)
    approvals = approvals_for(database, client, sandbox, wall,
                              audit=AuditLog(audit_db, key=KEY, checkpoints=tmp_path / "bot.db.checkpoints"))
    approvals.db = audit_db
    approvals.store.db = audit_db
    return approvals


# -- what someone holding the database (file or server) can do ------------------------------------------------

def drop_trigger(db: Database, name: str) -> None:
    db.execute(f"drop trigger if exists {name}" + (" on audit_log" if is_postgres(db) else ""))


def drop_triggers(db: Database) -> None:
    drop_trigger(db, "audit_log_no_update")
    drop_trigger(db, "audit_log_no_delete")


def recompute_from(db: Database, seq: int, detail: str) -> None:
    """Change row `seq` and recompute every hash after it (a consistent chain, without the key)."""
    drop_triggers(db)
    db.execute("update audit_log set detail = ? where seq = ?", [detail, seq])
    prev = db.execute("select hash from audit_log where seq = ?", [seq - 1]).fetchone()[0]
    audit = AuditLog(db)
    for row in list(audit.rows(after_seq=seq - 1)):
        digest = _digest(prev, row.hashed_fields())
        db.execute("update audit_log set prev_hash = ?, hash = ? where seq = ?", [prev, digest, row.seq])
        prev = digest


def forge_append(db: Database, actor: str = "U0MALLORY") -> None:
    """Append a row with a correct chain hash (anyone can compute SHA-256)."""
    seq, last = db.execute("select seq, hash from audit_log order by seq desc limit 1").fetchone()
    fields = {"at": datetime(2026, 11, 20, tzinfo=UTC).isoformat(), "actor": actor, "team": TEAM, "channel": "C0",
              "proposal_id": "forged", "action": "approved", "outcome": "approved", "request_hash": None,
              "zuora_ids": "{}", "detail": ""}
    db.execute("insert into audit_log (seq, at, actor, team, channel, proposal_id, action, outcome, request_hash, "
               "zuora_ids, detail, prev_hash, hash) values (:seq, :at, :actor, :team, :channel, :proposal_id, "
               ":action, :outcome, :request_hash, :zuora_ids, :detail, :prev, :hash)",
               {**fields, "seq": seq + 1, "prev": last, "hash": _digest(last, fields)})


# -- signed rows and checkpoints (AUDIT_KEY) -------------------------------------------------------------------

@pytest.fixture
def log(database: str, tmp_path: Path, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> AuditLog:
    approvals = signed(database, tmp_path, client, sandbox, wall)
    busy(approvals)
    assert approvals.audit.checkpoint() is not None and approvals.audit.checkpoint() is None  # only when it moved
    assert approvals.audit.verify() == []
    return approvals.audit


def test_rows_name_the_version_kind_body_hash_and_request(log: AuditLog) -> None:
    rows = list(log.rows())
    executing = next(r for r in rows if r.action == "executing")
    assert executing.version == 1 and executing.kind == "credit_memo" and executing.method == "POST"
    assert executing.path.startswith("/v1/credit-memos/invoice/") and len(executing.body_hash or "") == 64
    assert all(r.mac for r in rows)
    proposed = json.loads(rows[0].context or "{}")
    assert proposed["question"].startswith("credit INV-448") and proposed["decision"] == "propose_credit_memo"


def test_truncated_newest_rows(log: AuditLog) -> None:
    count = log.head()[0]
    drop_triggers(log.db)
    log.db.execute("delete from audit_log where seq > ?", [count - 2])
    problems = log.verify()
    assert any(p.startswith("truncated: the checkpoint of") and f"saw {count} rows" in p for p in problems)


def test_all_rows_deleted(log: AuditLog) -> None:
    drop_triggers(log.db)
    log.db.execute("delete from audit_log")
    assert any(p.startswith("all rows deleted") for p in log.verify())


def test_a_recomputed_chain(log: AuditLog) -> None:
    recompute_from(log.db, 2, "nothing to see")
    problems = log.verify()
    assert not any("does not follow" in p or "does not match its hash" in p for p in problems)  # chain consistent
    assert "row 2: forged (its signature does not match AUDIT_KEY)" in problems
    assert any("differs from the signed checkpoint" in p and "recomputed" in p for p in problems)


def test_a_forged_appended_row(log: AuditLog) -> None:
    forge_append(log.db)
    count = log.head()[0]
    assert log.verify() == [f"row {count}: forged (unsigned, after signed rows)"]


def test_missing_triggers(log: AuditLog) -> None:
    drop_trigger(log.db, "audit_log_no_delete")
    assert log.verify() == ["trigger audit_log_no_delete is missing: the log can be changed in place"]


def test_a_forged_checkpoint(log: AuditLog) -> None:
    assert log.checkpoints is not None
    with log.checkpoints.open("a") as out:
        out.write(json.dumps({"at": "x", "count": 1, "seq": 1, "head": "0" * 64, "sig": "f" * 64}) + "\n")
    assert log.verify() == ["checkpoint x: forged (its signature does not match AUDIT_KEY)"]


def cli(database: str, tmp_path: Path, *args: str, key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "AUDIT_CHECKPOINT_PATH": str(tmp_path / "bot.db.checkpoints")}
    if key:
        env["AUDIT_KEY"] = key
    return subprocess.run([sys.executable, "-m", "bot", "audit", "verify", "--database", database, *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_verify_cli_says_what_is_wrong_in_one_line(database: str, tmp_path: Path, log: AuditLog) -> None:
    ok = cli(database, tmp_path)
    assert ok.returncode == 0 and "intact" in ok.stdout and "signed checkpoints" in ok.stdout
    drop_triggers(log.db)
    log.db.execute("delete from audit_log where seq > 3")
    bad = cli(database, tmp_path)
    assert bad.returncode == 1 and len(bad.stdout.splitlines()) == 1 and "truncated" in bad.stdout
    assert bad.stderr == ""
    log.db.execute("drop table audit_log")
    broken = cli(database, tmp_path)
    assert broken.returncode == 1 and broken.stdout == ""
    why = 'relation "audit_log" does not exist' if is_postgres(log.db) else "no such table: audit_log"
    assert broken.stderr.splitlines() == [f"error: {redact_url(database)}: the audit log cannot be read ({why})"]
    if is_postgres(log.db):
        return
    missing = subprocess.run([sys.executable, "-m", "bot", "audit", "verify", "--database", str(tmp_path / "no.db")],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert missing.returncode == 1 and "no such database file" in missing.stderr and "Traceback" not in missing.stderr


# -- the mirror in Zuora ---------------------------------------------------------------------------------------

@pytest.fixture
def mirrored(database: str, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> AuditMirror:
    approvals = approvals_for(database, client, sandbox, wall)
    busy(approvals)
    mirror = AuditMirror(client, approvals.audit, redact=True, batch=4)
    assert mirror.flush() == approvals.audit.head()[0] and mirror.flush() == 0
    assert mirror.compare() == []
    return mirror


def test_every_row_is_mirrored_once_in_batches_with_idempotency_keys(mirrored: AuditMirror,
                                                                     sandbox: ZuoraSandbox) -> None:
    records = list(sandbox.tenant.object_records[OBJECT].values())
    count = mirrored.audit.head()[0]
    assert len(records) == count and len({r["EventKey__c"] for r in records}) == count
    posts = sandbox.requests_to(f"/objects/records/default/{OBJECT}", "POST")
    assert len(posts) == -(-count // 4) and len({p.headers["idempotency-key"] for p in posts}) == len(posts)
    executed = next(r for r in records if r["ActionType__c"] == "credit_memo:succeeded")
    assert executed["Stage__c"] == "executed" and executed["ApiCall__c"].startswith("POST /v1/credit-memos/invoice/")
    assert "credit_memo_id" in executed["ApiResult__c"] and executed["AccountNumber__c"].startswith("A")
    asked = next(r for r in records if r["ActionType__c"] == "credit_memo:proposed" and r.get("Prompt__c"))
    assert asked["Prompt__c"].startswith("redacted (REDACT_PII): sha256=")
    assert "jane@" not in json.dumps(records, default=str)
    assert json.loads(asked["InputData__c"])["version"] == 1


def test_a_lost_answer_during_a_flush_makes_no_duplicates(database: str, client: ZuoraClient,
                                                          sandbox: ZuoraSandbox, wall: Clock) -> None:
    approvals = approvals_for(database, client, sandbox, wall)
    busy(approvals, 1)
    sandbox.inject(f"/objects/records/default/{OBJECT}", method="POST", statuses=[503], after=True)
    mirror = AuditMirror(client, approvals.audit)
    assert mirror.flush() == approvals.audit.head()[0]
    assert len(sandbox.tenant.object_records[OBJECT]) == approvals.audit.head()[0]


def test_the_mirror_catches_truncation_a_recomputed_chain_and_forged_rows(mirrored: AuditMirror) -> None:
    db = mirrored.audit.db
    count = mirrored.audit.head()[0]
    forge_append(db)
    assert mirrored.compare() == [f"rows {count + 1}–{count + 1} are not in Zuora's {OBJECT} (forged, or not "
                                  f"mirrored yet: let serve flush, then verify again)"]
    recompute_from(db, 3, "rewritten")
    assert any(p.startswith(f"row 3: differs from Zuora's {OBJECT} copy") for p in mirrored.compare())
    db.execute("delete from audit_log where seq >= ?", [count - 1])
    assert any(f"rows {count - 1}–{count} are in Zuora's {OBJECT} but not in the database" in p
               for p in mirrored.compare())


def test_a_proposal_changed_in_the_file_is_refused_and_verify_names_it(database: str, client: ZuoraClient,
                                                                      sandbox: ZuoraSandbox, wall: Clock) -> None:
    from bot.actions.approvals import unaudited

    approvals = approvals_for(database, client, sandbox, wall)
    record = approvals.open(credit(approvals, "50.00"), requester=REP, team=TEAM, channel="C0")
    request = record.request.model_dump(mode="json")
    request["body"]["items"][0]["amount"] = 2000  # someone with the file raises the amount
    approvals.db.execute("update proposals set request = ? where id = ?", [json.dumps(request), record.id])
    assert unaudited(approvals.store, approvals.audit) == [
        f"proposal {record.id}: its stored request (version 1) is not the one the audit log records (version 1): "
        f"changed outside the app"]
    refused = approve(approvals, record.id)
    assert refused.kind == "denied" and "changed outside the app" in refused.message

    claimed = approvals.open(credit(approvals, "50.00"), requester=REP, team=TEAM, channel="C0")
    current = approve(approvals, claimed.id)
    assert current.kind == "claimed" and current.record
    approvals.db.execute("update proposals set request = ? where id = ?", [json.dumps(request), claimed.id])
    done = approvals.run(current.record)
    assert done.record and done.record.status == "failed" and "not the version the approver saw" in done.message
    assert sandbox.requests_to("/v1/credit-memos/invoice/*", "POST") == []


def test_a_row_deleted_in_the_middle_without_any_anchor(database: str, client: ZuoraClient, sandbox: ZuoraSandbox,
                                                        wall: Clock) -> None:
    approvals = approvals_for(database, client, sandbox, wall)
    busy(approvals, 1)
    drop_triggers(approvals.db)
    approvals.db.execute("delete from audit_log where seq = 2")
    assert approvals.audit.verify()[-2:] == ["rows 2–2 deleted", "row 3: does not follow the row before it"]


def test_the_mirror_can_be_queried_by_proposal(mirrored: AuditMirror, client: ZuoraClient) -> None:
    proposal_id = next(r.proposal_id for r in mirrored.audit.rows() if r.proposal_id)
    found = list(client.custom_objects.records(OBJECT, q=f"ProposalId__c.EQ:{proposal_id}"))
    expected = [r.hash for r in mirrored.audit.rows(proposal_id=proposal_id)]
    assert [r["EventKey__c"] for r in found] == expected and len(expected) >= 4
