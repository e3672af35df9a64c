"""The money path in process: versions bind approvals, one checked path to Zuora, concurrent approvals, expiry."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.actions import Approvals, Policy, Result
from bot.actions.audit import AuditLog
from bot.sandbox import ZuoraSandbox
from bot.storage import transaction
from bot.zuora import ZuoraClient
from tests.conftest import FakeClock, make_client
from tests.test_approvals import APPROVER, CFO, LEAD, MEMO_POST, REP, TEAM, Clock, approvals_for, approve, credit

pytestmark = pytest.mark.both_databases

WRITE_OFF_PUT = "/v1/invoices/*/write-off"


def memo_amounts(sandbox: ZuoraSandbox) -> list[Decimal]:
    """The amount of every credit-memo POST Zuora received."""
    return [Decimal(str(sum(Decimal(str(i["amount"])) for i in json.loads(r.body)["items"])))
            for r in sandbox.requests_to(MEMO_POST, "POST")]


def pay(client: ZuoraClient, sandbox: ZuoraSandbox, number: str, amount: str) -> None:
    """Someone pays the invoice by wire meanwhile (the object changes under the card)."""
    invoice = client.invoices.get(number)
    client.payments.create({"type": "External", "accountId": invoice.account_id, "amount": Decimal(amount),
                            "currency": invoice.currency, "effectiveDate": str(sandbox.tenant.today),
                            "invoices": [{"invoiceId": invoice.invoice_id, "amount": Decimal(amount)}]},
                           idempotency_key=f"wire-{number}-{amount}")


def test_a_click_on_an_outdated_card_runs_nothing(approvals: Approvals, sandbox: ZuoraSandbox) -> None:
    record = approvals.open(credit(approvals, "50.00"), requester=REP, team=TEAM, channel="C0")
    edited = approvals.edit(record.id, clicker=REP, team=TEAM, groups=frozenset(), amount=Decimal("40"), version=1)
    assert edited.kind == "edited" and edited.record and edited.record.version == 2
    old = approve(approvals, record.id, version=1)
    assert old.kind == "changed" and old.message == "This card changed; look again."
    assert approvals.get(record.id).status == "pending" and memo_amounts(sandbox) == []  # type: ignore[union-attr]
    assert approvals.edit(record.id, clicker=REP, team=TEAM, groups=frozenset(), amount=Decimal("30"),
                          version=1).kind == "changed"  # an edit from an outdated modal too
    done = approvals.run(approve(approvals, record.id, version=2).record)  # type: ignore[arg-type]
    assert done.record and done.record.status == "succeeded" and memo_amounts(sandbox) == [Decimal("40")]
    rows = list(AuditLog(approvals.db).rows(proposal_id=record.id))
    assert [(r.action, r.version) for r in rows] == [("proposed", 1), ("edited", 2), ("approve_outdated", 2),
                                                     ("approved", 2), ("executing", 2), ("succeeded", 2)]
    assert rows[0].body_hash != rows[1].body_hash and rows[-2].body_hash == rows[1].body_hash


def race(approvals: Approvals, record_id: str, amount: Decimal) -> dict[str, Result]:
    """An Approve on the card of version 1 and an Edit to `amount`, released at the same moment."""
    barrier, results = threading.Barrier(2), {}

    def click() -> None:
        barrier.wait()
        result = approve(approvals, record_id, version=1)
        results["approve"] = approvals.run(result.record) if result.kind == "claimed" and result.record else result

    def edit() -> None:
        barrier.wait()
        results["edit"] = approvals.edit(record_id, clicker=REP, team=TEAM, groups=frozenset(), amount=amount,
                                         version=1)

    threads = [threading.Thread(target=click), threading.Thread(target=edit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_approve_edit_race_in_threads_never_runs_a_body_the_approver_did_not_see(
        database: str, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> None:
    approvals = approvals_for(database, client, sandbox, wall)
    outcomes: list[tuple[str, str]] = []
    for n in range(12):
        record = approvals.open(credit(approvals, "50.00"), requester=REP, team=TEAM, channel="C0")
        results = race(approvals, record.id, Decimal(10 + n))
        outcomes.append((results["approve"].kind, results["edit"].kind))
        assert outcomes[-1] in {("done", "already"), ("changed", "edited")}
    runs = [o for o in outcomes if o[0] == "done"]
    assert set(memo_amounts(sandbox)) <= {Decimal("50.00")}  # only ever the body the approver saw
    assert len(memo_amounts(sandbox)) == len(runs)


def test_recovery_after_a_claim_checks_the_object_first(database: str, client: ZuoraClient, sandbox: ZuoraSandbox,
                                                        wall: Clock) -> None:
    first = approvals_for(database, client, sandbox, wall)
    record = first.open(first.drafts().dunning_email("INV00000449", "reminder"), requester=REP, team=TEAM,
                        channel="C0")
    assert approve(first, record.id, clicker=LEAD).kind == "claimed"  # then the process dies
    pay(client, sandbox, "INV00000449", "725.00")  # paid in full meanwhile
    [settled] = approvals_for(database, client, sandbox, wall).recover()
    assert settled.status == "stale" and "balance 725.00 → 0.00" in (settled.outcome or {})["message"]
    assert sandbox.requests_to("/v1/invoices/*/emails", "POST") == []


def test_recovery_in_read_only_sends_nothing_and_the_sweep_runs_it_later(
        database: str, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> None:
    first = approvals_for(database, client, sandbox, wall)
    record = first.open(credit(first), requester=REP, team=TEAM, channel="C0")
    assert approve(first, record.id).kind == "claimed"  # then the process dies
    [held] = approvals_for(database, client, sandbox, wall, read_only=True).recover()
    assert held.status == "unknown" and "READ_ONLY" in (held.outcome or {})["message"]
    assert approvals_for(database, client, sandbox, wall, read_only=True).recover() == []  # said once
    assert memo_amounts(sandbox) == []
    [done] = approvals_for(database, client, sandbox, wall).recover(("unknown",))  # READ_ONLY off again
    assert done.status == "succeeded" and memo_amounts(sandbox) == [Decimal("50.00")]


def test_recovery_past_expiry_sends_nothing(database: str, client: ZuoraClient, sandbox: ZuoraSandbox,
                                            wall: Clock) -> None:
    first = approvals_for(database, client, sandbox, wall)
    record = first.open(credit(first), requester=REP, team=TEAM, channel="C0")
    assert approve(first, record.id).kind == "claimed"
    wall.now += timedelta(hours=30)
    [expired] = approvals_for(database, client, sandbox, wall).recover()
    assert expired.status == "expired" and memo_amounts(sandbox) == []


def test_a_write_off_put_in_flight_is_never_sent_twice(database: str, sandbox: ZuoraSandbox, clock: FakeClock,
                                                       wall: Clock) -> None:
    class Killed(BaseException):
        """The process dies while Zuora has the PUT."""

    parked: list[object] = []

    def dies_while_put_is_in_flight(request: object) -> object:
        if getattr(request, "method", "") == "PUT":
            parked.append(request)  # Zuora got it but has not run it yet
            raise Killed
        return sandbox.handle(request)  # type: ignore[arg-type]

    import httpx

    with make_client(sandbox, clock, transport=httpx.MockTransport(dies_while_put_is_in_flight)) as doomed:
        first = approvals_for(database, doomed, sandbox, wall)
        record = first.open(first.drafts().write_off("INV00000449", "uncollectable"), requester=REP, team=TEAM,
                            channel="C0")
        with pytest.raises(Killed):
            first.run(approve(first, record.id, clicker=LEAD).record)  # type: ignore[arg-type]
    with make_client(sandbox, clock) as fresh:
        restarted = approvals_for(database, fresh, sandbox, wall)
        [held] = restarted.recover()
        assert held.status == "unknown" and "may still be running" in (held.outcome or {})["message"]
        assert restarted.recover(("unknown",)) == [] and sandbox.requests_to(WRITE_OFF_PUT, "PUT") == []
        sandbox.handle(parked[0])  # the first PUT lands after all
        [settled] = restarted.recover(("unknown",))
    assert settled.status == "succeeded" and (settled.outcome or {})["document"].startswith("CM")
    assert len(sandbox.requests_to(WRITE_OFF_PUT, "PUT")) == 1


def test_a_put_that_never_landed_is_sent_once_after_the_grace(database: str, client: ZuoraClient,
                                                              sandbox: ZuoraSandbox, wall: Clock) -> None:
    first = approvals_for(database, client, sandbox, wall)
    record = first.open(first.drafts().write_off("INV00000449", "uncollectable"), requester=REP, team=TEAM,
                        channel="C0")
    claimed = approve(first, record.id, clicker=LEAD)
    with transaction(first.db):
        first.store.mark_sent(record.id, wall.now)  # sent, then lost before Zuora ran it
    assert claimed.kind == "claimed"
    wall.now += timedelta(minutes=6)
    [settled] = approvals_for(database, client, sandbox, wall).recover()
    assert settled.status == "succeeded" and len(sandbox.requests_to(WRITE_OFF_PUT, "PUT")) == 1
    assert approvals_for(database, client, sandbox, wall).recover(("unknown",)) == []
    assert len(sandbox.requests_to(WRITE_OFF_PUT, "PUT")) == 1


@pytest.mark.parametrize("round_", range(3))
def test_two_approvers_at_the_same_moment_both_count(database: str, client: ZuoraClient, sandbox: ZuoraSandbox,
                                                     wall: Clock, round_: int) -> None:
    approvals = approvals_for(database, client, sandbox, wall)
    approvals.policy = Policy.parse([CFO, "U0CFO2"], "*:U0CFO|U0CFO2", Decimal(1000))
    record = approvals.open(approvals.drafts().write_off("INV00000272", "bankrupt"), requester=REP, team=TEAM,
                            channel="C0")
    barrier, results = threading.Barrier(2), {}

    def click(who: str) -> None:
        barrier.wait()
        results[who] = approve(approvals, record.id, clicker=who, version=1)

    threads = [threading.Thread(target=click, args=(who,)) for who in (CFO, "U0CFO2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = sorted(r.kind for r in results.values())
    assert kinds == ["claimed", "waiting"], results
    second = next(r for r in results.values() if r.kind == "claimed")
    first = next(who for who, r in results.items() if r.kind == "waiting")
    assert f"Approved after <@{first}>; running it in Zuora now." == second.message
    assert second.record and set(second.record.approvals) == {CFO, "U0CFO2"}
    assert approvals.run(second.record).record.status == "succeeded"  # type: ignore[union-attr]
    assert len(sandbox.requests_to(WRITE_OFF_PUT, "PUT")) == 1


def test_edits_and_clicks_on_expired_proposals_are_refused_at_once(approvals: Approvals, wall: Clock,
                                                                   sandbox: ZuoraSandbox) -> None:
    for verb in ("edit", "reject", "approve"):
        record = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
        wall.now += timedelta(hours=25)  # no sweep has run
        if verb == "edit":
            result = approvals.edit(record.id, clicker=REP, team=TEAM, groups=frozenset(), amount=Decimal("10"),
                                    version=1)
        elif verb == "reject":
            result = approvals.reject(record.id, clicker=APPROVER, team=TEAM, groups=frozenset(), reason="x",
                                      version=1)
        else:
            result = approve(approvals, record.id)
        assert result.kind == "expired" and "expired" in result.message, verb
        assert approvals.get(record.id).status == "expired"  # type: ignore[union-attr]
    assert memo_amounts(sandbox) == []


@pytest.fixture
def wall() -> Clock:
    return Clock()


@pytest.fixture
def approvals(database: str, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> Approvals:
    return approvals_for(database, client, sandbox, wall)


def test_the_sweep_settles_an_execution_whose_thread_died(approvals: Approvals, wall: Clock,
                                                          sandbox: ZuoraSandbox) -> None:
    record = approvals.open(credit(approvals), requester=REP, team=TEAM, channel="C0")
    assert approve(approvals, record.id).kind == "claimed"  # the thread that should run it dies
    assert approvals.recover_stuck() == []  # it might still be running
    wall.now += timedelta(minutes=11)
    [settled] = approvals.recover_stuck()
    assert settled.status == "succeeded" and memo_amounts(sandbox) == [Decimal("50.00")]
