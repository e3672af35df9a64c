"""Demo-tenant stories for the portfolio questions, ADDED after the founding tenant is built (no existing
record changes; new ids, numbers and accounts come after the existing ones, including the rate stories
A00000071-A00000073 in bot/sandbox/seed.py).

- A00000074 Brightline Freight (USD, United States): a chronically late payer: six monthly invoices,
  each paid by wire 25 to 60 days after its due date.
- A00000075 Kestrel Outfitters (USD, United States): old unpaid invoices in every aging bucket
  (due 10, 45, 75, 120 and 200 days ago, all still open).
- A00000076 Cerulean Media and A00000077 Lumen Pixel (USD, Brazil): declines concentrated in one
  country: three declined card payments each in the last two quarters, none recovered.
- A00000078 Titan Aerospace (USD, United States): a customer that dominates revenue: twelve monthly
  invoices of 40,000.00 USD, each paid on its due date.

These invoices are not part of any bill run (source `API`), so bill-run stories are untouched.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from bot.sandbox.payments import record_payment
from bot.sandbox.state import Tenant

__all__ = ["PORTFOLIO_STORIES", "add_portfolio_stories"]

D = Decimal
PORTFOLIO_STORIES = {
    "late_payer": {"account": "A00000074", "invoices": 6},
    "aging": {"account": "A00000075", "days_past_due": (10, 45, 75, 120, 200), "amount": D("1800.00")},
    "declines_country": {"accounts": ["A00000076", "A00000077"], "country": "Brazil", "declines": 3},
    "dominant": {"account": "A00000078", "amount": D("40000.00"), "invoices": 12},
}


def _account(tenant: Tenant, number: int, name: str, country: str, state: str | None, city: str) -> dict:
    template = tenant.find("accounts", "A00000001")
    assert template is not None
    assert tenant.find("accounts", f"A{number:08d}") is None, f"A{number:08d} is taken: renumber the story"
    account = copy.deepcopy(template)
    contact = dict(account["billToContact"], id=tenant.new_id("contact"), country=country, state=state, city=city,
                   firstName="Demo", lastName=name.split()[0],
                   workEmail=f"billing@{name.split()[0].lower()}.example")
    account.update(id=tenant.new_id("account"), accountNumber=f"A{number:08d}", name=name, currency="USD",
                   billToContact=contact, soldToContact=contact, defaultPaymentMethodId=None, autoPay=False)
    tenant.add("accounts", account, "accountNumber")
    pm_template = tenant.payment_methods.get(template.get("defaultPaymentMethodId") or "")
    if pm_template is not None:
        pm = dict(copy.deepcopy(pm_template), id=tenant.new_id("paymentmethod"), accountId=account["id"],
                  numConsecutiveFailures=0, totalNumberOfErrorPayments=0, totalNumberOfProcessedPayments=0)
        pm.pop("declineWith", None)
        tenant.payment_methods[pm["id"]] = pm
        account["defaultPaymentMethodId"] = pm["id"]
    return account


def _invoice(tenant: Tenant, account: dict, day: date, amount: Decimal) -> dict:
    stamp = datetime.combine(day, time(3, 0))
    invoice = tenant.add("invoices", {
        "id": tenant.new_id("invoice"), "invoiceNumber": tenant.next_number("invoice", "INV{:08d}"),
        "accountId": account["id"], "amount": amount, "amountWithoutTax": amount, "taxAmount": D(0),
        "balance": amount, "paymentAmount": D(0), "creditMemoAmount": D(0), "adjustmentAmount": D(0),
        "refundAmount": D(0), "currency": "USD", "invoiceDate": day, "dueDate": day + timedelta(days=30),
        "targetDate": day, "postedDate": day, "status": "Posted", "source": "API", "sourceId": None,
        "sourceType": "Standalone", "billRunId": None, "autoPay": False, "paymentTerm": "Net 30",
        "includesOneTime": True, "includesRecurring": False, "includesUsage": False, "createdDate": stamp,
        "updatedDate": stamp, "postedBy": "billing-automation"}, "invoiceNumber")
    tenant.invoices_of[account["id"]].append(invoice["id"])
    return invoice


def add_portfolio_stories(tenant: Tenant) -> None:
    """Add the accounts, invoices and payments described in the module docstring."""
    today = tenant.today
    late = _account(tenant, 74, "Brightline Freight", "United States", "Ohio", "Columbus")
    for k in range(6):
        day = today - timedelta(days=60 + 30 * (6 - k) + 10)
        invoice = _invoice(tenant, late, day, D("2400.00") + 100 * k)
        paid = invoice["dueDate"] + timedelta(days=25 + 7 * k)
        if paid < today:
            record_payment(tenant, late, [(invoice, invoice["amount"])], invoice["amount"], paid, "External", None,
                           comment="wire")
    aged = _account(tenant, 75, "Kestrel Outfitters", "United States", "Colorado", "Denver")
    for days in PORTFOLIO_STORIES["aging"]["days_past_due"]:  # type: ignore[attr-defined]
        _invoice(tenant, aged, today - timedelta(days=days + 30), PORTFOLIO_STORIES["aging"]["amount"])  # type: ignore[arg-type]
    for number, name in ((76, "Cerulean Media"), (77, "Lumen Pixel")):
        account = _account(tenant, number, name, "Brazil", None, "São Paulo")
        for k, code in enumerate(("51", "05", "51")):
            day = today - timedelta(days=20 + 45 * k + number % 3)
            invoice = _invoice(tenant, account, day - timedelta(days=3), D("1250.00") + 50 * k)
            record_payment(tenant, account, [(invoice, invoice["amount"])], invoice["amount"], day, "Electronic",
                           account["defaultPaymentMethodId"],
                           decline=(code, "Insufficient funds" if code == "51" else "Do not honor"))
    big = _account(tenant, 78, "Titan Aerospace", "United States", "Washington", "Seattle")
    for k in range(12):
        day = today - timedelta(days=30 * (12 - k) + 35)
        invoice = _invoice(tenant, big, day, PORTFOLIO_STORIES["dominant"]["amount"])  # type: ignore[arg-type]
        record_payment(tenant, big, [(invoice, invoice["amount"])], invoice["amount"], invoice["dueDate"],
                       "External", None, comment="wire")
