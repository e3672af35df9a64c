"""Benchmark a bill-run summary over thousands of invoices: time, requests, and memory that stays flat.

Run: `.venv/bin/python benchmarks/billrun.py` (prints a table; no network). For each size the
embedded sandbox runs as a separate process over HTTP, holding a synthetic bill run of N invoices
(one per account) and a previous run of N, so the numbers are this process's alone: `tracemalloc`
peak while streaming and summarising, against the size.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
import tracemalloc
from datetime import date, datetime
from decimal import Decimal
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZES = [1_000, 5_000, 10_000]


def _synthetic(n: int) -> Any:
    from bot.sandbox import ZuoraSandbox

    sandbox = ZuoraSandbox()
    t = sandbox.tenant
    template = next(i for i in t.invoices.values() if i["status"] == "Posted" and i["amount"] > 0)
    account_template = next(iter(t.accounts.values()))
    runs = [("BR-90000001", date(2026, 9, 1)), ("BR-90000002", date(2026, 10, 1))]
    run_template = next(iter(t.bill_runs.values()))
    for number, target in runs:
        day = date(2030, target.month, 1)
        t.add("bill_runs", dict(copy.deepcopy(run_template), id=f"{number.replace('-', '').lower():0>32}",
                                billRunNumber=number, status="Completed", targetDate=day, invoiceDate=day,
                                numberOfInvoices=n, numberOfAccounts=n, updatedDate=datetime(2030, target.month, 1)),
              "billRunNumber")
    for k in range(n):
        account = copy.deepcopy(account_template)
        account.update(id=f"{k:032x}", accountNumber=f"Z{k:08d}", name=f"Synthetic {k}")
        t.add("accounts", account, "accountNumber")
        for r, (number, target) in enumerate(runs):
            invoice = dict(template, id=f"{r + 1}{k:031x}", invoiceNumber=f"INV9{r}{k:07d}", accountId=account["id"],
                           amount=Decimal(100 + (k % 97) * (r + 1)), sourceId=number,
                           invoiceDate=date(2030, target.month, 1), targetDate=date(2030, target.month, 1))
            t.add("invoices", invoice, "invoiceNumber")
            t.invoices_of[account["id"]].append(invoice["id"])
    return sandbox


def _serve(n: int) -> None:
    from bot.sandbox.server import SandboxServer

    server = SandboxServer(_synthetic(n)).start()
    print(server.url, flush=True)
    sys.stdin.read()  # until the parent closes it
    server.close()


def _measure(n: int) -> tuple[float, int, float, int]:
    from bot.billruns import find_bill_run, summarize
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from bot.zuora import ZuoraClient

    child = subprocess.Popen([sys.executable, __file__, "--serve", str(n)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    url = child.stdout.readline().strip()
    try:
        with ZuoraClient(url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as client:
            run = find_bill_run(client, "BR-90000002")
            tracemalloc.start()
            started = time.perf_counter()
            summary = summarize(client, run)
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    finally:
        child.stdin.close()
        child.wait(30)
    assert summary.invoices == n and summary.previous_invoices == n
    return seconds, summary.invoices, peak / 1024 / 1024, len(summary.increases)


def main() -> None:
    print(f"{'invoices':>9} {'seconds':>8} {'peak MiB (tracemalloc)':>23} {'MiB per 1k invoices':>20}")
    for n in SIZES:
        seconds, count, peak, _ = _measure(n)
        print(f"{count:>9} {seconds:>8.1f} {peak:>23.2f} {peak / (n / 1000):>20.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[2]))
    else:
        main()
