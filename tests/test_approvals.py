"""The approval state machine against the sandbox: policy at click time, claim once, stale, retries, recovery."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bot.actions import Approvals, Policy
from bot.actions.audit import AuditLog
from bot.actions.proposals import Proposal
from bot.sandbox import ZuoraSandbox
from bot.storage import database_errors, is_postgres, open_db
from bot.zuora import ZuoraClient
from tests.conftest import FakeClock, make_client

pytestmark = pytest.mark.both_databases

REP, APPROVER, LEAD, CFO, OUTSIDER = "U0REP", "U0APPROVER", "U0LEAD", "U0CFO", "U0OUTSIDER"
TEAM = "T0ACME"
MEMO_POST = "/v1/credit-memos/invoice/*"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def wall() -> Clock:
    return Clock()


def approvals_for(database: str | Path, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock,
                  **kw: object) -> Approvals:
    """Approvals on `database` (a SQLite path or a PostgreSQL URL: the test's `database`)."""
    policy = Policy.parse([APPROVER, LEAD, CFO], "250:approvers,2500:U0LEAD|U0CFO,*:U0CFO", Decimal(1000))
    return Approvals(open_db(database), client, policy, now=wall, today=lambda: sandbox.tenant.today,
                     **kw)  # type: ignore[arg-type]


@pytest.fixture
def approvals(database: str, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> Approvals:
    return approvals_for(database, client, sandbox, wall)


def credit(approvals: Approvals, amount: str = "50.00", invoice: str = "INV00000448") -> Proposal:
    return approvals.drafts().credit_memo(invoice, Decimal(amount), "goodwill for the outage")


def writes(sandbox: ZuoraSandbox, pattern: str = MEMO_POST) -> list[object]:
    return [r for r in sandbox.requests_to(pattern, "POST")]


def balance(sandbox: ZuoraSandbox, number: str) -> Decimal:
    invoice = sandbox.tenant.find("invoices", number)
    assert invoice is not None
    return Decimal(invoice["balance"])


def approve(approvals: Approvals, proposal_id: str, clicker: str = APPROVER, team: str | None = TEAM,
            version: int | None = None):
    """A click on the card as it stands now (or on the card of `version`)."""
    if version is None:
        record = approvals.get(proposal_id)
        version = record.version if record else None
    return approvals.approve(proposal_id, clicker=clicker, team=team, groups=frozenset(), version=version)


def test_approved_credit_runs_once_with_the_proposal_id_as_key(approvals: Approvals, sandbox: ZuoraSandbox) -> None:
    record = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    assert record.proposal.reason_code == "Service Outage Credit"
    assert approve(approvals, record.id, clicker=REP).kind == "denied"  # own proposal
    claimed = approve(approvals, record.id)
    assert claimed.kind == "claimed" and claimed.record and claimed.record.status == "executing"
    done = approvals.run(claimed.record)
    assert done.record and done.record.status == "succeeded", done.message
    assert done.record.outcome and done.record.outcome["document"].startswith("CM")
    [post] = writes(sandbox)
    assert post.headers.get("idempotency-key") == record.id  # type: ignore[attr-defined]
    assert balance(sandbox, "INV00000448") == Decimal("3628.81")
    actions = [r.action for r in AuditLog(approvals.db).rows(proposal_id=record.id)]
    assert actions == ["proposed", "approve_denied", "approved", "executing", "succeeded"]
    assert AuditLog(approvals.db).verify() == []
    assert approve(approvals, record.id).kind == "already"  # a replayed click
    assert len(writes(sandbox)) == 1


def test_twenty_concurrent_approvals_claim_once(approvals: Approvals, sandbox: ZuoraSandbox) -> None:
    record = approvals.open(credit(approvals, "20.00"), requester=REP, team=TEAM, channel="C0")
    barrier = threading.Barrier(20)
    results = []

    def click() -> None:
        barrier.wait()
        result = approve(approvals, record.id)
        if result.kind == "claimed" and result.record:
            result = approvals.run(result.record)
        results.append(result.kind)

    threads = [threading.Thread(target=click) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already"] * 19 + ["done"]
    assert len(writes(sandbox)) == 1


@pytest.mark.parametrize(("clicker", "team", "amount", "why"), [
    (OUTSIDER, TEAM, "50.00", "not in the approvers list"),
    (APPROVER, "T0OTHER", "50.00", "another Slack workspace"),
    (APPROVER, TEAM, "300.00", "needs <@U0LEAD> or <@U0CFO>"),
    (LEAD, TEAM, "2600.00", "needs <@U0CFO>"),
])
def test_refused_clicks_change_nothing_but_the_audit(approvals: Approvals, sandbox: ZuoraSandbox, clicker: str,
                                                     team: str, amount: str, why: str) -> None:
    record = approvals.open(credit(approvals, amount), requester=REP, team=TEAM, channel="C0")
    result = approve(approvals, record.id, clicker=clicker, team=team)
    assert result.kind == "denied" and why in result.message
    assert approvals.get(record.id).status == "pending"  # type: ignore[union-attr]
    assert writes(sandbox) == []
    last = list(AuditLog(approvals.db).rows(proposal_id=record.id))[-1]
    assert (last.action, last.actor, last.outcome) == ("approve_denied", clicker, "denied")


def test_an_invoice_paid_after_the_card_makes_the_proposal_stale(approvals: Approvals, client: ZuoraClient,
                                                                 sandbox: ZuoraSandbox) -> None:
    record = approvals.open(approvals.drafts().write_off("INV00000449", "uncollectable"), requester=REP, team=TEAM,
                            channel="C0")
    invoice = client.invoices.get("INV00000449")
    client.payments.create({"type": "External", "accountId": invoice.account_id, "amount": Decimal("725.00"),
                            "currency": "USD", "effectiveDate": str(sandbox.tenant.today),
                            "invoices": [{"invoiceId": invoice.invoice_id, "amount": Decimal("725.00")}]},
                           idempotency_key="paid-by-wire")
    result = approvals.run(approve(approvals, record.id, clicker=LEAD).record)  # type: ignore[arg-type]
    assert result.kind == "stale" and "balance 725.00 → 0.00" in result.message
    assert approvals.get(record.id).status == "stale"  # type: ignore[union-attr]
    assert sandbox.requests_to("/v1/invoices/*/write-off", "PUT") == []


def test_a_lost_answer_is_retried_with_the_same_key_and_makes_one_memo(approvals: Approvals,
                                                                       sandbox: ZuoraSandbox) -> None:
    record = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    sandbox.inject(MEMO_POST, method="POST", statuses=[503], after=True)  # the memo is made, the answer lost
    result = approvals.run(approve(approvals, record.id).record)  # type: ignore[arg-type]
    assert result.record and result.record.status == "succeeded", result.message
    keys = {r.headers.get("idempotency-key") for r in writes(sandbox)}  # type: ignore[attr-defined]
    assert len(writes(sandbox)) == 2 and keys == {record.id}
    memos = [m for m in sandbox.tenant.credit_memos.values() if m.get("referredInvoiceId") ==
             sandbox.tenant.find("invoices", "INV00000448")["id"]]  # type: ignore[index]
    assert len(memos) == 1


def test_a_business_error_fails_with_zuoras_message(approvals: Approvals, sandbox: ZuoraSandbox) -> None:
    record = approvals.open(approvals.drafts().payment_retry("INV00000449", None, "retry"), requester=REP, team=TEAM,
                            channel="C0")
    result = approvals.run(approve(approvals, record.id, clicker=LEAD).record)  # type: ignore[arg-type]
    assert result.record and result.record.status == "failed"
    assert result.message.startswith("Zuora refused: Transaction declined.43")
    assert approve(approvals, record.id, clicker=CFO).kind == "already"


def test_a_process_killed_after_the_claim_is_recovered_to_one_write(database: str, sandbox: ZuoraSandbox,
                                                                    clock: FakeClock, wall: Clock) -> None:
    class Killed(BaseException):
        """The process dies: nothing after this line runs."""

    def dies_after_sending(request: httpx.Request) -> httpx.Response:
        response = sandbox.handle(request)
        if request.method == "POST" and "/credit-memos/" in request.url.path:
            raise Killed  # Zuora made the memo; the bot never saw the answer
        return response

    with make_client(sandbox, clock, transport=httpx.MockTransport(dies_after_sending)) as doomed:
        first = approvals_for(database, doomed, sandbox, wall)
        record = first.open(credit(first), requester=REP, team=TEAM, channel="C0")
        claimed = approve(first, record.id)
        with pytest.raises(Killed):
            first.run(claimed.record)  # type: ignore[arg-type]
    with make_client(sandbox, clock) as fresh:
        restarted = approvals_for(database, fresh, sandbox, wall)
        assert restarted.get(record.id).status == "executing"  # type: ignore[union-attr]
        [settled] = restarted.recover()
    assert settled.status == "succeeded" and settled.outcome and settled.outcome["document"].startswith("CM")
    assert len(writes(sandbox)) == 1  # found in Zuora by the proposal reference in its comment: not re-sent
    memos = [m for m in sandbox.tenant.credit_memos.values()
             if m.get("referredInvoiceId") == sandbox.tenant.find("invoices", "INV00000448")["id"]]  # type: ignore[index]
    assert len(memos) == 1 and balance(sandbox, "INV00000448") == Decimal("3628.81")


def test_only_a_claimed_proposal_runs(approvals: Approvals, sandbox: ZuoraSandbox) -> None:
    record = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    assert approvals.run(record).kind == "already"  # pending: nobody approved it
    assert approve(approvals, record.id, clicker=OUTSIDER).kind == "denied"
    assert approvals.run(record).kind == "already" and writes(sandbox) == []


def test_read_only_refuses_execution(database: str, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> None:
    approvals = approvals_for(database, client, sandbox, wall, read_only=True)
    record = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    result = approve(approvals, record.id)
    assert result.kind == "read_only" and "READ_ONLY" in result.message
    assert approvals.get(record.id).status == "pending" and writes(sandbox) == []  # type: ignore[union-attr]


def test_expiry_reject_and_edit(approvals: Approvals, sandbox: ZuoraSandbox, wall: Clock) -> None:
    old = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    wall.now += timedelta(hours=25)
    [expired] = approvals.expire_due()
    assert expired.id == old.id and expired.status == "expired"
    assert approve(approvals, old.id).kind == "already"

    rejected = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    assert approvals.reject(rejected.id, clicker=OUTSIDER, team=TEAM, groups=frozenset(), reason="no").kind == "denied"
    result = approvals.reject(rejected.id, clicker=APPROVER, team=TEAM, groups=frozenset(), reason="customer left")
    assert result.kind == "rejected" and result.record and result.record.outcome == {"message": "customer left",
                                                                                      "by": APPROVER}
    edited = approvals.open(credit(approvals, "300.00"), requester=REP, team=TEAM, channel="C0")
    too_much = approvals.edit(edited.id, clicker=REP, team=TEAM, groups=frozenset(), amount=Decimal("999999"))
    assert too_much.kind == "invalid" and "more than the charges of INV00000448" in too_much.message
    assert approve(approvals, edited.id).kind == "denied"  # 300 is above the approver's tier
    result = approvals.edit(edited.id, clicker=REP, team=TEAM, groups=frozenset(), amount=Decimal("200"))
    assert result.kind == "edited" and result.record and result.record.request.body["items"][0]["amount"] == 200
    done = approvals.run(approve(approvals, edited.id).record)  # type: ignore[arg-type]
    assert done.record and done.record.status == "succeeded"
    assert balance(sandbox, "INV00000448") == Decimal("3478.81")
    assert [r.action for r in AuditLog(approvals.db).rows(proposal_id=edited.id)] == [
        "proposed", "approve_denied", "edited", "approved", "executing", "succeeded"]


def test_a_large_write_off_needs_two_approvers(approvals: Approvals, sandbox: ZuoraSandbox) -> None:
    record = approvals.open(approvals.drafts().write_off("INV00000272", "bankrupt"), requester=REP, team=TEAM,
                            channel="C0")
    assert record.proposal.amount == Decimal("6694.55")
    first = approve(approvals, record.id, clicker=CFO)
    assert first.kind == "waiting" and approve(approvals, record.id, clicker=CFO).kind == "denied"
    assert approve(approvals, record.id, clicker=LEAD).kind == "denied"  # above the lead's tier
    policy = approvals.policy
    approvals.policy = Policy.parse([*policy.approvers, "U0CFO2"], "250:approvers,2500:U0LEAD|U0CFO,*:U0CFO|U0CFO2",
                                    policy.two_approvers_above)
    second = approve(approvals, record.id, clicker="U0CFO2")
    assert second.kind == "claimed" and second.record and second.record.approvals == (CFO, "U0CFO2")
    assert approvals.run(second.record).record.status == "succeeded"  # type: ignore[union-attr]
    assert balance(sandbox, "INV00000272") == 0


def test_the_audit_log_refuses_changes_and_verify_finds_tampering(approvals: Approvals) -> None:
    record = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    approvals.reject(record.id, clicker=APPROVER, team=TEAM, groups=frozenset(), reason="no")
    with pytest.raises(database_errors(), match="append-only"):
        approvals.db.execute("update audit_log set actor = 'someone' where seq = 1")
    with pytest.raises(database_errors(), match="append-only"):
        approvals.db.execute("delete from audit_log where seq = 1")
    audit = AuditLog(approvals.db)
    assert audit.verify() == []
    on = " on audit_log" if is_postgres(approvals.db) else ""
    approvals.db.execute(f"drop trigger audit_log_no_update{on}")  # someone with the database in hand
    approvals.db.execute("update audit_log set detail = 'nothing to see' where seq = 1")
    assert audit.verify() == ["trigger audit_log_no_update is missing: the log can be changed in place",
                              "row 1: its content does not match its hash (changed after it was written)"]


def test_zuora_down_leaves_it_unknown_until_a_later_sweep_settles_it(approvals: Approvals,
                                                                     sandbox: ZuoraSandbox) -> None:
    record = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    sandbox.inject(MEMO_POST, method="POST", statuses=[503] * 50)
    result = approvals.run(approve(approvals, record.id).record)  # type: ignore[arg-type]
    assert result.record and result.record.status == "unknown" and "did not confirm" in result.message
    assert approvals.recover(("unknown",)) == []  # still down: nothing new, no extra audit row
    sandbox.clear_faults()
    [settled] = approvals.recover(("unknown",))
    assert settled.status == "succeeded"
    assert {r.headers.get("idempotency-key") for r in writes(sandbox)} == {record.id}  # type: ignore[attr-defined]
    actions = [r.action for r in AuditLog(approvals.db).rows(proposal_id=record.id)]
    assert actions == ["proposed", "approved", "executing", "unknown", "recovered_succeeded"]


def test_a_422_is_final_and_not_retried(approvals: Approvals, sandbox: ZuoraSandbox) -> None:
    record = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    sandbox.inject(MEMO_POST, method="POST", statuses=[422])
    result = approvals.run(approve(approvals, record.id).record)  # type: ignore[arg-type]
    assert result.record and result.record.status == "failed" and result.message.startswith("Zuora refused: ")
    assert len(writes(sandbox)) == 1 and balance(sandbox, "INV00000448") == Decimal("3678.81")
    assert approvals.recover() == []  # failed is final: nothing is re-sent
