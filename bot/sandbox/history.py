"""The demo tenant's billing history, seeded: monthly bill runs, each account's invoice with its items (the one
item writer every sandbox invoice uses), and how each invoice was paid, declined or credited."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from bot.sandbox.billing import Line, lines_for_month
from bot.sandbox.customers import dt
from bot.sandbox.profiles import Profile
from bot.sandbox.state import Tenant, money
from bot.sandbox.stories import STORIES

__all__ = ["add_item", "bill_month", "create_bill_run", "settle"]

D = Decimal


def create_bill_run(tenant: Tenant, n: int, bill_date: date) -> dict:
    """Add the completed bill run number `n` of `bill_date`."""
    start = dt(bill_date, 2)
    return tenant.add("bill_runs", {
        "id": tenant.new_id("billrun"), "billRunNumber": f"BR-{n:08d}", "name": f"Monthly {bill_date:%B %Y}",
        "status": "Completed", "targetDate": bill_date, "invoiceDate": bill_date, "batches": ["AllBatches"],
        "billCycleDay": 1, "autoPost": True, "autoEmail": True, "autoRenewal": False,
        "noEmailForZeroAmountInvoice": True, "createdDate": start, "updatedDate": start + timedelta(minutes=9),
        "executedDate": start, "startDate": start, "endDate": start + timedelta(minutes=9),
        "totalTime": 9 * 60 * 1000 + 123, "numberOfCreditMemos": 0, "errorMessage": None,
    }, "billRunNumber")


def bill_month(tenant: Tenant, p: Profile, sub: dict, bill_date: date, run: dict) -> None:
    """Post the invoice of profile `p`'s subscription for the month of `bill_date`, in `run`."""
    account = tenant.find("accounts", f"A{p.number:08d}")
    assert account is not None
    charges = [c for rp in sub["ratePlans"] for c in rp["charges"]]
    lines = lines_for_month(charges, bill_date, account["taxRate"])
    invoice_id = tenant.new_id("invoice")
    created = dt(bill_date, 2, 5)
    subtotal = sum((ln.amount for ln in lines), D(0))
    tax = sum((ln.tax for ln in lines), D(0))
    invoice = tenant.add("invoices", {
        "id": invoice_id, "invoiceNumber": tenant.next_number("invoice", "INV{:08d}"),
        "accountId": account["id"], "amount": subtotal + tax, "amountWithoutTax": subtotal, "taxAmount": tax,
        "balance": subtotal + tax, "paymentAmount": D(0), "creditMemoAmount": D(0), "adjustmentAmount": D(0),
        "refundAmount": D(0), "currency": account["currency"], "invoiceDate": bill_date,
        "dueDate": bill_date + timedelta(days=30), "targetDate": bill_date, "postedDate": bill_date,
        "status": "Posted", "source": "BillRun", "sourceId": run["billRunNumber"], "sourceType": "Subscription",
        "billRunId": run["id"], "autoPay": account["autoPay"], "paymentTerm": "Net 30",
        "includesOneTime": any(ln.charge.charge_type == "OneTime" for ln in lines),
        "includesRecurring": any(ln.charge.charge_type == "Recurring" for ln in lines),
        "includesUsage": any(ln.charge.charge_type == "Usage" for ln in lines),
        "createdDate": created, "updatedDate": created, "postedBy": "billing-automation",
    }, "invoiceNumber")
    tenant.invoices_of[account["id"]].append(invoice_id)
    ids: dict[int, str] = {}
    for ln in lines:
        ids[id(ln)] = tenant.new_id("item")
    for ln in lines:
        add_item(tenant, invoice, sub, ln, ids, account, created)


def add_item(tenant: Tenant, invoice: dict, sub: dict, ln: Line, ids: dict[int, str], account: dict,
             created: datetime) -> None:
    """Add the invoice item of `ln` (and its tax item); `ids` holds the item id of every line of the invoice."""
    item_id = ids[id(ln)]
    rate_plan = next(rp for rp in sub["ratePlans"] if ln.charge in rp["charges"])
    tax_item = {"id": tenant.new_id("taxitem"), "name": account["taxName"],
                "jurisdiction": account["billToContact"]["state"] or account["billToContact"]["country"],
                "locationCode": "", "taxAmount": ln.tax, "taxRate": account["taxRate"],
                "taxRateType": "Percentage", "taxCode": "SaaS", "taxDate": invoice["invoiceDate"],
                "balance": ln.tax, "creditAmount": D(0), "paymentAmount": D(0), "exemptAmount": D(0)}
    tenant.items[item_id] = {
        "id": item_id, "invoiceId": invoice["id"], "chargeId": ln.charge.segment_ids[ln.segment_index],
        "chargeNumber": ln.charge.number, "chargeName": ln.charge.name,
        "chargeDescription": ln.description or ln.charge.name, "description": ln.description,
        "chargeType": ln.charge.charge_type, "chargeDate": created, "chargeAmount": ln.amount,
        "taxAmount": ln.tax, "balance": ln.amount, "taxBalance": ln.tax, "quantity": ln.quantity,
        "unitPrice": ln.unit_price, "unitOfMeasure": ln.charge.uom or "", "serviceStartDate": ln.start,
        "serviceEndDate": ln.end, "processingType": ln.processing_type,
        "appliedToItemId": ids[id(ln.applied_to)] if ln.applied_to else None,
        "subscriptionId": sub["id"], "subscriptionName": sub["subscriptionNumber"],
        "productName": "Relay Platform", "productRatePlanChargeId": ln.charge.product_rate_plan_charge_id,
        "sku": ln.charge.sku, "sourceItemType": "SubscriptionComponent", "taxMode": "TaxExclusive",
        "taxCode": "SaaS", "availableToCreditAmount": ln.amount, "ratePlanName": rate_plan["name"],
        "taxationItems": [tax_item], "accountId": account["id"], "updatedDate": created,
    }
    tenant.items_of[invoice["id"]].append(item_id)


def settle(tenant: Tenant, p: Profile, m: int, bill_date: date, rng: random.Random) -> None:
    """Pay (or decline, or credit) profile `p`'s latest invoice as its story says, for month `m`."""
    account = tenant.find("accounts", f"A{p.number:08d}")
    assert account is not None
    invoice = tenant.invoices[tenant.invoices_of[account["id"]][-1]]
    if invoice["amount"] <= 0:
        return
    if p.number == 12 and m == 6:
        _seed_credit_memo(tenant, account, invoice, bill_date + timedelta(days=2))
    if p.unpaid_from is not None and m >= p.unpaid_from:
        return
    from bot.sandbox.payments import record_payment

    pm_id = account["defaultPaymentMethodId"]
    if p.payer == "external":
        day = bill_date + timedelta(days=rng.randint(10, 25))
        if day <= tenant.today:
            record_payment(tenant, account, [(invoice, invoice["balance"])], invoice["balance"], day, "External", None)
        return
    day = bill_date + timedelta(days=3 if p.payer == "ach" else 0)
    if day > tenant.today:
        return
    decline = p.declines.get(m)
    if decline:
        code, message, retry_days = decline
        record_payment(tenant, account, [(invoice, invoice["balance"])], invoice["balance"], day, "Electronic",
                       pm_id, decline=(code, message))
        if retry_days is None:
            if code == "43":  # a stolen card keeps declining
                tenant.payment_methods[pm_id]["declineWith"] = (code, message)
            return
        day += timedelta(days=retry_days)
    record_payment(tenant, account, [(invoice, invoice["balance"])], invoice["balance"], day, "Electronic", pm_id)


def _seed_credit_memo(tenant: Tenant, account: dict, invoice: dict, day: date) -> None:
    amount = STORIES["credit_memo"]["amount"]
    memo = tenant.add("credit_memos", {
        "id": tenant.new_id("creditmemo"), "number": tenant.next_number("creditmemo", "CM{:08d}"),
        "accountId": account["id"], "accountNumber": account["accountNumber"], "amount": amount,
        "appliedAmount": amount, "unappliedAmount": D(0), "refundAmount": D(0), "taxAmount": D(0),
        "currency": account["currency"], "creditMemoDate": day, "targetDate": None, "status": "Posted",
        "source": "AdhocFromInvoice", "sourceType": "Invoice", "sourceId": invoice["invoiceNumber"],
        "referredInvoiceId": invoice["id"], "reasonCode": "Service Outage Credit",
        "comment": "Outage on the 3rd: two days of service credited", "autoApplyUponPosting": True,
        "createdDate": dt(day, 11), "updatedDate": dt(day, 11), "postedOn": dt(day, 11),
    }, "number")
    tenant.apply_to_invoice(invoice, money(amount), kind="credit")
    invoice["updatedDate"] = memo["updatedDate"]
