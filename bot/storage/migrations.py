"""Numbered, append-only schema migrations, recorded in the `_migrations` table.

Add a new `mNNN_<what>` function at the end of the file with `@migration`; never edit or reorder
one that has shipped. Each migration runs in its own transaction together with its bookkeeping
row, so a crash leaves the schema either before or after it, never half-way (PostgreSQL's DDL is
transactional too).

One set of migrations serves SQLite and PostgreSQL: they are written in SQL both accept, and
`bot.storage.postgres.translate` maps SQLite's self-numbering `integer primary key`; the one real
difference (a trigger body) branches on `is_postgres`. Several processes starting together each
apply a migration at most once: SQLite's write lock, or PostgreSQL's advisory lock `migrations`,
is held while a migration is checked for and applied.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from bot.storage.db import is_postgres, transaction

__all__ = ["MIGRATIONS", "applied_migrations", "migrate"]

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration; its name must be `m<NNN>_<what>` in order."""
    expected = f"m{len(MIGRATIONS) + 1:03d}_"
    if not fn.__name__.startswith(expected):
        raise RuntimeError(f"migration {fn.__name__!r} must be named {expected}…")
    MIGRATIONS.append(fn)
    return fn


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    """Names of the migrations already applied to `db`, in order."""
    if "_migrations" not in db.table_names():
        return []
    return [row[0] for row in db.execute("select name from _migrations order by name").fetchall()]


def migrate(db: sqlite_utils.Database, *, now: Callable[[], datetime] | None = None) -> list[str]:
    """Apply the pending migrations to `db` and return the names of those it applied."""
    clock = now or (lambda: datetime.now(UTC))
    if "_migrations" not in db.table_names():
        with transaction(db, lock="migrations"):
            db.execute("create table if not exists _migrations (name text primary key, applied_at text not null)")
    done = set(applied_migrations(db))
    applied: list[str] = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        with transaction(db, lock="migrations"):
            # Another process may have applied it while we waited for the lock.
            if db.execute("select 1 from _migrations where name = ?", [fn.__name__]).fetchone():
                continue
            fn(db)
            db.execute("insert into _migrations (name, applied_at) values (?, ?)",
                       [fn.__name__, clock().isoformat()])
        applied.append(fn.__name__)
    return applied


@migration
def m001_kv(db: sqlite_utils.Database) -> None:
    """A small key/value table for process state such as polling high-water marks."""
    db.execute("create table kv (key text primary key, value text not null, updated_at text not null)")


@migration
def m002_conversations(db: sqlite_utils.Database) -> None:
    """The copilot's conversations: one row per question and answer, by Slack channel and thread."""
    db.execute("""create table conversation_turns (
        id integer primary key,
        channel text not null,
        thread text not null,
        user_id text not null,
        question text not null,
        answer text not null,
        created_at text not null)""")
    db.execute("create index conversation_turns_thread on conversation_turns (channel, thread, id)")


@migration
def m003_slack_events(db: sqlite_utils.Database) -> None:
    """Slack Events API deliveries already taken, by `event_id`, so Slack's retries are answered once."""
    db.execute("create table slack_events (event_id text primary key, received_at text not null)")
    db.execute("create index slack_events_received on slack_events (received_at)")


@migration
def m004_proposals(db: sqlite_utils.Database) -> None:
    """Money-moving proposals and their approval state (see design.md, "Approvals")."""
    db.execute("""create table proposals (
        id text primary key,
        kind text not null,
        status text not null,
        proposal text not null,
        request text not null,
        requester text not null,
        team text not null,
        channel text not null,
        message_ts text,
        approvals text not null default '[]',
        outcome text,
        created_at text not null,
        expires_at text not null,
        updated_at text not null)""")
    db.execute("create index proposals_status on proposals (status, expires_at)")


@migration
def m005_audit(db: sqlite_utils.Database) -> None:
    """The append-only, hash-chained audit log: UPDATE and DELETE are refused by triggers."""
    db.execute("""create table audit_log (
        seq integer primary key autoincrement,
        at text not null,
        actor text not null,
        team text not null,
        channel text not null,
        proposal_id text,
        action text not null,
        outcome text not null,
        request_hash text,
        zuora_ids text not null,
        detail text not null,
        prev_hash text not null,
        hash text not null)""")
    if is_postgres(db):
        db.execute("create function audit_log_append_only() returns trigger language plpgsql as "
                   "$$ begin raise exception 'audit_log is append-only'; end $$")
        for event in ("update", "delete"):
            db.execute(f"create trigger audit_log_no_{event} before {event} on audit_log "
                       "for each row execute function audit_log_append_only()")
        return
    db.execute("create trigger audit_log_no_update before update on audit_log "
               "begin select raise(abort, 'audit_log is append-only'); end")
    db.execute("create trigger audit_log_no_delete before delete on audit_log "
               "begin select raise(abort, 'audit_log is append-only'); end")


@migration
def m006_callouts(db: sqlite_utils.Database) -> None:
    """Zuora callouts (and poller finds) taken, by notification id and by business key (event + object id)."""
    db.execute("""create table callouts (
        business_key text primary key,
        notification_id text unique,
        event text not null,
        object_id text not null,
        source text not null,
        status text not null,
        detail text not null default '',
        received_at text not null,
        updated_at text not null)""")


@migration
def m007_billrun_subscriptions(db: sqlite_utils.Database) -> None:
    """Who gets a DM after each bill run, and which DMs were sent (one per bill run and user)."""
    db.execute("create table billrun_subscribers (user_id text primary key, team text not null, "
               "subscribed_at text not null)")
    db.execute("create table billrun_deliveries (bill_run_id text not null, user_id text not null, "
               "sent_at text not null, primary key (bill_run_id, user_id))")


@migration
def m008_proposal_versions(db: sqlite_utils.Database) -> None:
    """Proposal versions (an edit makes a new one; a click names the one it saw) and when a request was sent."""
    db.execute("alter table proposals add column version integer not null default 1")
    db.execute("alter table proposals add column sent_at text")


@migration
def m009_audit_versions(db: sqlite_utils.Database) -> None:
    """Audit rows name the proposal version, kind, body hash and exact request; `mac` signs a row with AUDIT_KEY."""
    for column in ("version integer", "body_hash text", "kind text", "method text", "path text", "context text",
                   "mac text"):
        db.execute(f"alter table audit_log add column {column}")
    db.execute("create index audit_log_proposal on audit_log (proposal_id, seq)")


@migration
def m010_slack_triggers(db: sqlite_utils.Database) -> None:
    """Slack `trigger_id`s already taken (commands, button clicks, modal submissions), so a replay does nothing."""
    db.execute("create table slack_triggers (trigger_id text primary key, received_at text not null)")
    db.execute("create index slack_triggers_received on slack_triggers (received_at)")


@migration
def m011_outbox(db: sqlite_utils.Database) -> None:
    """What must still happen after an answer (run a callout's work, post a card, send a DM), with leases.

    Works as is on PostgreSQL: claims select due rows `FOR UPDATE SKIP LOCKED` and set the lease.
    """
    db.execute("""create table outbox (
        id integer primary key,
        key text not null unique,
        topic text not null,
        lane text not null default '',
        payload text not null,
        status text not null,
        attempts integer not null default 0,
        next_attempt_at text not null,
        lease_owner text,
        lease_until text,
        last_error text not null default '',
        created_at text not null,
        updated_at text not null)""")
    db.execute("create index outbox_due on outbox (status, topic, lane, next_attempt_at)")


@migration
def m012_answer_feedback(db: sqlite_utils.Database) -> None:
    """Thumbs up/down on the agent's answers: one verdict per person per answer (the latest click wins)."""
    db.execute("""create table answer_feedback (
        turn_id integer not null,
        user_id text not null,
        verdict text not null,
        recorded_at text not null,
        primary key (turn_id, user_id))""")


@migration
def m013_leases(db: sqlite_utils.Database) -> None:
    """Named leases: work that runs on one instance at a time (the poller, the approvals sweep) and who holds it."""
    db.execute("""create table leases (
        name text primary key,
        owner text not null,
        expires_at text not null,
        acquired_at text not null)""")


@migration
def m014_channel_slots(db: sqlite_utils.Database) -> None:
    """The per-channel post limiter, shared by every instance: when a channel may get its next message (wall
    clock, ms), who is sending to it now, when it last got one, and the digest message rows are added to."""
    db.execute("""create table channel_slots (
        channel text primary key,
        owner text,
        next_ms bigint not null,
        sent_ms bigint,
        digest_ts text,
        digest_rows integer not null default 0,
        digest_ms bigint)""")
