"""Benchmark the portfolio questions over 10k and 100k invoices: Object Query against Data Query.

Run: `.venv/bin/python benchmarks/analytics.py [--sizes 10000,100000] [--latency 0.25] [--only TOOL,…]` (prints a
table; no network). For each size the sandbox runs as a separate process over HTTP with `--latency`
seconds added to every request (Zuora's own answer time, roughly), holding a synthetic book of N
invoices over 12 months (N/10 accounts, about a fifth still open, some paid late) and N/5 payments
(one in twenty declined). Each question is answered through the real tools, once over Object Query and
once over Data Query; the table shows Zuora requests, seconds and `tracemalloc` peak of this process
(the aggregation streams, so memory should stay flat in N, apart from the account map).
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time
import tracemalloc
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TODAY = date(2026, 11, 20)
QUESTIONS = [("receivables_aging", {}), ("late_payers", {"period": "last 6 months"}),
             ("failed_payments", {"period": "last 12 months", "group_by": "country"}),
             ("top_customers", {"period": "last 12 months", "measure": "invoiced", "limit": 10})]


def _book(n: int) -> Any:
    from bot.sandbox import ZuoraSandbox

    sandbox = ZuoraSandbox()
    t = sandbox.tenant
    invoice_template = next(i for i in t.invoices.values() if i["status"] == "Posted" and i["amount"] > 0)
    account_template = next(iter(t.accounts.values()))
    payment_template = next(p for p in t.payments.values() if p["status"] == "Processed")
    countries = ["United States", "Germany", "France", "Brazil", "Japan"]
    accounts = []
    for k in range(max(1, n // 10)):
        account = copy.deepcopy(account_template)
        account.update(id=f"{k:032x}", accountNumber=f"Z{k:08d}", name=f"Synthetic {k}", currency="USD")
        account["billToContact"] = dict(account["billToContact"], id=f"c{k:031x}", country=countries[k % 5])
        t.add("accounts", account, "accountNumber")
        accounts.append(account)
    for k in range(n):
        account = accounts[k % len(accounts)]
        day = TODAY - timedelta(days=k % 365)
        amount = Decimal(100 + k % 97)
        open_ = k % 5 == 0
        invoice = dict(invoice_template, id=f"1{k:031x}", invoiceNumber=f"INV9{k:08d}", accountId=account["id"],
                       currency="USD", amount=amount, balance=amount if open_ else Decimal(0), invoiceDate=day,
                       dueDate=day + timedelta(days=30), sourceId="manual", targetDate=day)
        t.add("invoices", invoice, "invoiceNumber")
        t.invoices_of[account["id"]].append(invoice["id"])
        if k % 5 == 1:
            paid = day + timedelta(days=30 + k % 40)
            status = "Error" if k % 100 == 1 else "Processed"
            payment = dict(copy.deepcopy(payment_template), id=f"2{k:031x}", number=f"P-9{k:08d}",
                           accountId=account["id"], accountNumber=account["accountNumber"], amount=amount,
                           currency="USD", effectiveDate=min(paid, TODAY), status=status,
                           gatewayResponseCode="51" if status == "Error" else "00",
                           applications=[] if status == "Error" else [
                               {"id": f"3{k:031x}", "invoiceId": invoice["id"], "amount": amount,
                                "createdDate": payment_template["createdDate"]}])
            t.add("payments", payment, "number")
            t.payments_of[account["id"]].append(payment["id"])
    return sandbox


def _serve(n: int, latency: float) -> None:
    from bot.sandbox.server import SandboxServer

    sandbox = _book(n)
    if latency:
        sandbox.inject("*", latency=latency)
    server = SandboxServer(sandbox).start()
    print(server.url, flush=True)
    sys.stdin.read()  # until the parent closes it
    server.close()


def _measure(url: str, tool: str, args: dict[str, Any], data_query: bool) -> tuple[int, float, float, int]:
    from bot.copilot import Toolbox, ToolContext
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from bot.zuora import ZuoraClient

    requests = 0

    def count(_: Any) -> None:
        nonlocal requests
        requests += 1

    import httpx

    with ZuoraClient(url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                     transport=httpx.HTTPTransport()) as client:
        client._http.event_hooks["request"] = [count]
        box = Toolbox(ToolContext(client, today=lambda: TODAY, data_query=data_query))
        tracemalloc.start()
        started = time.perf_counter()
        outcome = box.run(tool, args)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert outcome.result is not None, outcome.error
    return requests, seconds, peak / 1024 / 1024, outcome.result.records_read


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--only", default="", help="comma-separated tool names (default: every question)")
    options = parser.parse_args()
    print(f"latency {options.latency * 1000:.0f} ms per request")
    print(f"{'invoices':>9} {'question':<18} {'path':<12} {'requests':>8} {'records':>8} {'seconds':>8} "
          f"{'peak MiB':>9}", flush=True)
    for n in (int(s) for s in options.sizes.split(",")):
        child = subprocess.Popen([sys.executable, __file__, "--serve", str(n), str(options.latency)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdin is not None
        url = child.stdout.readline().strip()
        try:
            for tool, args in QUESTIONS:
                if options.only and tool not in options.only.split(","):
                    continue
                for data_query in (False, True):
                    requests, seconds, peak, records = _measure(url, tool, args, data_query)
                    print(f"{n:>9} {tool:<18} {'Data Query' if data_query else 'Object Query':<12} {requests:>8} "
                          f"{records:>8} {seconds:>8.1f} {peak:>9.2f}", flush=True)
        finally:
            child.stdin.close()
            child.wait(60)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
