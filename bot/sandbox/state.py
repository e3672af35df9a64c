"""The sandbox tenant's in-memory state: records in Zuora's v1 field names, plus the bookkeeping
that keeps them consistent when money moves (payments, credit memos, write-offs).

Records are plain dicts holding Python values (`Decimal`, `date`, `datetime`); `render.py` turns
them into Zuora's JSON for v1 or Object Query. Ids are deterministic (a hash of kind and counter),
so two sandboxes built from the same seed are identical.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["CENT", "Tenant", "money"]

CENT = Decimal("0.01")
Record = dict[str, Any]


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half up, as Zuora does for currency amounts."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Tenant:
    """Every object of one tenant, indexed by id, with number look-ups and counters."""

    today: date
    seed: int = 7
    accounts: dict[str, Record] = field(default_factory=dict)
    subscriptions: dict[str, Record] = field(default_factory=dict)
    invoices: dict[str, Record] = field(default_factory=dict)
    items: dict[str, Record] = field(default_factory=dict)
    payments: dict[str, Record] = field(default_factory=dict)
    payment_methods: dict[str, Record] = field(default_factory=dict)
    credit_memos: dict[str, Record] = field(default_factory=dict)
    payment_schedules: dict[str, Record] = field(default_factory=dict)
    bill_runs: dict[str, Record] = field(default_factory=dict)
    invoice_schedules: dict[str, Record] = field(default_factory=dict)
    bill_run_jobs: dict[str, Record] = field(default_factory=dict)
    """What an API-created bill run bills (`bot.sandbox.schedules`), by bill-run id."""
    bill_run_error: str | None = None
    """Test hook: the next API-created bill run that processes ends in Error with this message."""
    usage: dict[str, Record] = field(default_factory=dict)
    orders: dict[str, Record] = field(default_factory=dict)
    products: dict[str, Record] = field(default_factory=dict)
    """The product catalog (see `catalog.py`): products with their rate plans and charges."""
    billed_through: dict[str, date] = field(default_factory=dict)
    """Subscription id → the last day its recurring charges are billed to (orders and generate move it)."""
    emails: list[Record] = field(default_factory=list)
    object_definitions: dict[str, Record] = field(default_factory=dict)
    object_records: dict[str, dict[str, Record]] = field(default_factory=lambda: defaultdict(dict))
    reason_codes: set[str] = field(default_factory=lambda: {
        "Correcting invoice error", "Goodwill", "Service Outage Credit", "Write-off"})
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _by_number: dict[tuple[str, str], str] = field(default_factory=dict)
    items_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    invoices_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    payments_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    query_caches: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Object Query's indexes and kept results per collection (`bot.sandbox.query.cache_of`)."""

    # -- ids and numbers ---------------------------------------------------------------------------

    def new_id(self, kind: str) -> str:
        """A fresh 32-hex id, deterministic for the tenant's seed."""
        self.counters[f"id:{kind}"] += 1
        raw = f"{self.seed}:{kind}:{self.counters[f'id:{kind}']}".encode()
        return hashlib.md5(raw, usedforsecurity=False).hexdigest()

    def next_number(self, kind: str, fmt: str) -> str:
        """The next document number of `kind`, e.g. `fmt="INV{:08d}"` → `INV00000701`."""
        self.counters[f"no:{kind}"] += 1
        return fmt.format(self.counters[f"no:{kind}"])

    def add(self, kind: str, record: Record, number_field: str | None = None) -> Record:
        """Store `record` in the collection `kind`, indexed by id (and number when given)."""
        getattr(self, kind)[record["id"]] = record
        if number_field:
            self._by_number[(kind, record[number_field])] = record["id"]
        return record

    def find(self, kind: str, key: str) -> Record | None:
        """A record of `kind` by id or by number (Zuora accepts either in most paths)."""
        records = getattr(self, kind)
        if key in records:
            return records[key]
        record_id = self._by_number.get((kind, key))
        return records.get(record_id) if record_id else None

    def now(self) -> datetime:
        """The tenant's business 'now': noon of `today` (no wall clock)."""
        return datetime(self.today.year, self.today.month, self.today.day, 12, 0, 0)

    # -- money movements ---------------------------------------------------------------------------

    def apply_to_invoice(self, invoice: Record, amount: Decimal, *, kind: str) -> None:
        """Lower an invoice's balance (and its items', charge lines first, then tax) by `amount`.

        `kind` is "payment" or "credit"; it decides which applied-amount field grows.
        """
        if amount <= 0:
            return
        if amount > invoice["balance"]:
            raise ValueError("amount exceeds the invoice balance")
        invoice["balance"] -= amount
        if kind == "payment":
            invoice["paymentAmount"] += amount
        else:
            invoice["creditMemoAmount"] += amount
        invoice["updatedDate"] = self.now()
        remaining = amount
        item_ids = self.items_of[invoice["id"]]
        for part in ("balance", "taxBalance"):
            for item_id in item_ids:
                item = self.items[item_id]
                take = min(remaining, max(item[part], Decimal(0)))
                item[part] -= take
                remaining -= take
                if remaining == 0:
                    return

    def account_balance(self, account_id: str) -> Decimal:
        """The sum of the open balances of the account's posted invoices."""
        return sum((self.invoices[i]["balance"] for i in self.invoices_of[account_id]
                    if self.invoices[i]["status"] == "Posted"), Decimal(0))

    def unapplied(self, account_id: str) -> Decimal:
        """Payment money the account has that is not applied to an invoice."""
        return sum((self.payments[p]["unappliedAmount"] for p in self.payments_of[account_id]
                    if self.payments[p]["status"] == "Processed"), Decimal(0))
