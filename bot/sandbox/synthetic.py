"""Big synthetic bill runs in a sandbox tenant, for load tests and benchmarks (deterministic, no randomness).

`add_bill_runs(sandbox, n, new_accounts=…)` adds two completed bill runs a month apart: `BR-90000001`
with an invoice for each of `n` accounts, then `BR-90000002` with an invoice for the same accounts
plus `new_accounts` accounts that were not in the first run (spread evenly through the account
ids; every `returning`-th of them has an older invoice, as an account that skipped a run).
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["CURRENT_RUN", "PREVIOUS_RUN", "add_bill_runs"]

PREVIOUS_RUN, CURRENT_RUN = "BR-90000001", "BR-90000002"
_DAYS = {PREVIOUS_RUN: date(2030, 9, 1), CURRENT_RUN: date(2030, 10, 1)}


def add_bill_runs(sandbox: Any, n: int, *, new_accounts: int = 0, returning: int = 4) -> None:
    """Add the two bill runs (see the module docstring) to `sandbox.tenant`."""
    t = sandbox.tenant
    template = next(i for i in t.invoices.values() if i["status"] == "Posted" and i["amount"] > 0)
    account_template = next(iter(t.accounts.values()))
    run_template = next(iter(t.bill_runs.values()))
    total = n + new_accounts
    for number, day in _DAYS.items():
        t.add("bill_runs", dict(copy.deepcopy(run_template), id=f"{number.replace('-', '').lower():0>32}",
                                billRunNumber=number, status="Completed", targetDate=day, invoiceDate=day,
                                numberOfInvoices=n if number == PREVIOUS_RUN else total,
                                numberOfAccounts=n if number == PREVIOUS_RUN else total,
                                updatedDate=datetime(day.year, day.month, day.day)), "billRunNumber")
    step = total // new_accounts if new_accounts else 0
    new = {k * step + step // 2 for k in range(new_accounts)}
    for k in range(total):
        account = copy.deepcopy(account_template)
        account.update(id=f"{k:032x}", accountNumber=f"Z{k:08d}", name=f"Synthetic {k}")
        t.add("accounts", account, "accountNumber")
        runs = [CURRENT_RUN] if k in new else [PREVIOUS_RUN, CURRENT_RUN]
        if k in new and returning and sorted(new).index(k) % returning == 0:
            runs.insert(0, "older")
        for r, number in enumerate(runs):
            day = _DAYS.get(number, date(2030, 6, 1))
            invoice = dict(template, id=f"{r + 1}{k:031x}", invoiceNumber=f"INV9{r}{k:07d}", accountId=account["id"],
                           amount=Decimal(100 + (k % 97) * (r + 1)), sourceId=number if number in _DAYS else "manual",
                           invoiceDate=day, targetDate=day)
            t.add("invoices", invoice, "invoiceNumber")
            t.invoices_of[account["id"]].append(invoice["id"])
