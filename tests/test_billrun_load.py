"""Bill-run summaries at size: both runs read at once, new accounts resolved in `IN` batches, requests counted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice

import pytest

from bot.billruns import find_bill_run, summarize
from bot.billruns.load import ReadAhead, _rows, latest_before
from bot.billruns.summary import BillRunSummary, Summarizer, pair_with_previous
from bot.sandbox import ZuoraSandbox
from bot.sandbox.synthetic import CURRENT_RUN, PREVIOUS_RUN, add_bill_runs
from bot.zuora import BillRun, ZuoraClient
from tests.conftest import FakeClock, make_client


def one_request_per_new_account(client: ZuoraClient, run: BillRun) -> BillRunSummary:
    """The summary as it was computed before: runs read alternately, one request per new account."""
    previous = next(islice(client.bill_runs.query(filters=["status.EQ:Completed", f"targetdate.LT:{run.target_date}"],
                                                  sort="targetdate.DESC", page_size=1), 1))
    summarizer = Summarizer()
    for row, amount in pair_with_previous(_rows(client, run.bill_run_number), _rows(client, previous.bill_run_number)):
        first = False
        if amount is None:
            earlier = client.invoices.before(row.account_id, row.invoice_date)
            first, amount = earlier is None, earlier.amount if earlier else None
        summarizer.add(row, amount, first=first)
    return BillRunSummary(bill_run_number=run.bill_run_number, bill_run_id=run.bill_run_id, status=run.status,
                          target_date=run.target_date, invoices=summarizer.invoices, accounts=summarizer.accounts,
                          credit_memos=0, totals=summarizer.totals, increases=summarizer.increases(),
                          zero_amount=summarizer.zero_amount, zero_examples=summarizer.zero_examples,
                          first_invoices=summarizer.first_invoices, first_examples=summarizer.first_examples)


@pytest.fixture
def big(sandbox: ZuoraSandbox) -> ZuoraSandbox:
    add_bill_runs(sandbox, 2_000, new_accounts=100)
    return sandbox


@pytest.mark.parametrize("window", [2_500, 10])
def test_the_summary_is_the_same_with_a_few_requests_for_100_new_accounts(big: ZuoraSandbox, clock: FakeClock,
                                                                         window: int) -> None:
    with make_client(big, clock) as client:
        run = find_bill_run(client, CURRENT_RUN)
        before = len(big.requests)
        summary = summarize(client, run, window=window)
        made = big.requests[before:]
        expected = one_request_per_new_account(client, run)
    assert summary.invoices == 2_100 and summary.previous_invoices == 2_000
    assert summary.first_invoices == 75  # 25 of the 100 new accounts had an older invoice
    keys = ("invoices", "accounts", "totals", "increases", "zero_amount", "zero_examples", "first_invoices",
            "first_examples")
    assert summary.model_dump(include=set(keys)) == expected.model_dump(include=set(keys))
    pages = -(-2_100 // 99) + -(-2_000 // 99)
    batches = [r for r in made if any(v.startswith("accountid.IN:") for _, v in r.params)]
    assert len(made) == pages + 1 + len(batches)  # the pages, the previous run's look-up, the batches
    if window > 2_100:  # 100 new accounts: two batches of 50 (was one request each)
        assert len(batches) == 2 and len(made) <= -(-(2_100 + 2_000) // 99) + 10
    else:  # a small window sends batches early: held rows stay few, requests grow with new accounts / window
        assert 2 < len(batches) <= 100 // (window - 1) + 2


@pytest.mark.parametrize("window", [1, 2, 3, 2_500])
def test_an_account_with_several_new_invoices_is_never_split_by_the_window(sandbox: ZuoraSandbox, clock: FakeClock,
                                                                           window: int) -> None:
    add_bill_runs(sandbox, 60, new_accounts=12)
    t = sandbox.tenant
    before = {i["accountId"] for i in t.invoices.values() if i["sourceId"] == PREVIOUS_RUN}
    new = [i for i in list(t.invoices.values()) if i["sourceId"] == CURRENT_RUN and i["accountId"] not in before]
    assert len(new) == 12
    for extra, invoice in enumerate(new[:6]):  # more invoices in this run for new accounts, zero and not
        for k in range(extra % 3 + 1):
            copy = dict(invoice, id=f"e{extra}{k}{invoice['id'][3:]}", invoiceNumber=f"INV7{extra}{k:02d}",
                        amount=Decimal(0) if k == 1 else invoice["amount"] + k)
            t.add("invoices", copy, "invoiceNumber")
            t.invoices_of[invoice["accountId"]].append(copy["id"])
    with make_client(sandbox, clock) as client:
        run = find_bill_run(client, CURRENT_RUN)
        summary = summarize(client, run, window=window, batch=4)
        expected = one_request_per_new_account(client, run)
    keys = {"invoices", "accounts", "totals", "increases", "zero_amount", "zero_examples", "first_invoices",
            "first_examples"}
    assert summary.model_dump(include=keys) == expected.model_dump(include=keys)
    assert summary.accounts == 72 and summary.zero_amount > 0


def test_latest_before_resolves_many_accounts_per_request_and_pages_when_full(sandbox: ZuoraSandbox,
                                                                             clock: FakeClock) -> None:
    t = sandbox.tenant
    accounts = [a["id"] for a in t.accounts.values()]
    day = t.today
    with make_client(sandbox, clock) as client:
        expected = {a: client.invoices.before(a, day) for a in accounts}
        before = len(sandbox.requests)
        found = latest_before(client, accounts, day)
        asked = len(sandbox.requests) - before
    assert {a: (i.invoice_number if i else None) for a, i in found.items()} == {
        a: (i.invoice_number if i else None) for a, i in expected.items()}
    assert asked < len(accounts) / 2  # far fewer than one request per account, even when a page fills up


def test_read_ahead_keeps_order_raises_in_place_and_stops_when_closed() -> None:
    assert list(ReadAhead(iter(range(1000)), size=3)) == list(range(1000))

    def failing() -> Iterator[int]:
        yield 1
        raise RuntimeError("page 2 failed")

    items = ReadAhead(failing())
    assert next(items) == 1
    with pytest.raises(RuntimeError, match="page 2 failed"):
        next(items)

    produced = threading.Event()

    def endless() -> Iterator[int]:
        n = 0
        while True:
            n += 1
            produced.set()
            yield n

    stream = ReadAhead(endless(), size=2)
    assert next(stream) == 1 and produced.wait(5)
    stream.close()
    assert not stream._thread.is_alive()
    with pytest.raises(StopIteration):
        next(stream)


def test_both_runs_are_read_at_the_same_time() -> None:
    """The previous run's first page is asked for while the current run's first page is still held in Zuora."""
    held = threading.Event()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the sandbox's injected latency
        sleeps.append(seconds)
        if len(sleeps) == 1:
            assert held.wait(10), "the other run was not asked for while this page was held"
        else:
            held.set()

    sandbox = ZuoraSandbox(sleep=sleep)
    add_bill_runs(sandbox, 500)
    with make_client(sandbox, FakeClock()) as client:
        run = find_bill_run(client, CURRENT_RUN)
        sandbox.inject("/object-query/invoices", latency=1.0)
        summary = summarize(client, run)
    assert held.is_set() and summary.invoices == summary.previous_invoices == 500
    assert summary.totals["USD"] > Decimal(0)
