"""The deterministic demo tenant: a growing SaaS business ("Relay") with 12 months of history.

Nothing depends on the wall clock: every date derives from `today` (default `DEMO_TODAY`) and all
variety comes from `random.Random(seed)`. Twenty founding accounts go live eleven months before
`today`'s month; five new accounts join every month from the third month on, so the latest bill
run bills 70 accounts. Invoices are numbered in bill-run order (month, then account number).

The stories (account → what it shows; `STORIES` keeps the numbers tests assert):

- A00000002 Northwind Traders: `INV00000042` (month 3) is higher than `INV00000022` (month 2) for
  four reasons at once: 5 seats added on day 15 of month 2 (a proration line, and 15 seats instead
  of 10), a usage overage (23,500 API calls vs 11,000, 10,000 included at 0.02), the 10 % launch
  discount that ended with month 2, and the tax that follows (Texas, 8.25 %).
  313.92 USD → 868.46 USD: +150.00 seats, +82.26 proration, +250.00 usage, +30.00 discount ended,
  +42.28 tax = +554.54.
- A00000003 Globex Retail: the latest card payment was soft-declined (51, insufficient funds); an
  earlier soft decline was recovered by a retry three days later.
- A00000004 Initech Software: the latest card payment was hard-declined (43, stolen card).
- A00000005 Umbrella Health: the default card expired at the end of month 10; the last two
  payments were declined (54, expired card).
- A00000006 Hooli Media: the default card expires at the end of next month.
- A00000007 Stark Logistics: pays by wire, has paid nothing for four months; two invoices are more
  than 45 days overdue and the balance is large enough for a payment plan.
- A00000010 Wayne Enterprises: a usage spike makes its latest invoice several times the previous.
- A00000011 Helping Hands Foundation: a 100 % non-profit discount, so every invoice is zero.
- A00000012 Vandelay Industries: a service-outage credit memo applied to an invoice.
- A00000066 to A00000070: new accounts whose first invoice (with an onboarding fee) is in the latest
  bill run.

Three stories for rates, added after everything above (their accounts and invoices come last, outside the
bill runs, so nothing above moves); each has two paid invoices dated the first of last and this month:

- A00000071 Taxonomy Books: the same 10 seats, but the tax rate went from 8.25 % to 9.5 %.
- A00000072 Discovery Toys: the same 20 seats, but the discount went from 10 % to 20 %.
- A00000073 Volumetric Labs: 10 seats at 30.00 became 15 seats at 25.00, the volume tier for 11 and
  more seats applied to the whole quantity.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from bot.sandbox.billing import Charge, Line, Segment, add_months, lines_for_month, month_end
from bot.sandbox.profiles import FIRST_NAMES, LAST_NAMES, MONTHS, PLAN_PRICES, Profile, profiles
from bot.sandbox.state import Tenant, money

__all__ = ["DEMO_TODAY", "STORIES", "build_demo_tenant"]

DEMO_TODAY = date(2026, 11, 20)
D = Decimal

STORIES = {
    "price_increase": {"invoice": "INV00000042", "previous": "INV00000022", "account": "A00000002",
                       "previous_amount": D("313.92"), "amount": D("868.46"), "difference": D("554.54"),
                       "drivers": {"quantity": D("150.00"), "proration": D("82.26"), "usage": D("250.00"),
                                   "discount_ended": D("30.00"), "tax": D("42.28")}},
    "soft_decline": {"account": "A00000003", "gateway_response_code": "51"},
    "hard_decline": {"account": "A00000004", "gateway_response_code": "43"},
    "expired_card": {"account": "A00000005", "gateway_response_code": "54"},
    "expiring_card": {"account": "A00000006"},
    "overdue": {"account": "A00000007", "unpaid_months": 4},
    "usage_spike": {"account": "A00000010"},
    "zero_invoice": {"account": "A00000011"},
    "credit_memo": {"account": "A00000012", "amount": D("50.00")},
    "first_invoices": {"accounts": [f"A{n:08d}" for n in range(66, 71)]},
    "tax_rate_change": {"account": "A00000071", "rates": (D("8.25"), D("9.5"))},
    "discount_rate_change": {"account": "A00000072", "rates": (D(10), D(20))},
    "volume_tier": {"account": "A00000073", "seats": (10, 15), "prices": (D("30.00"), D("25.00"))},
}

def build_demo_tenant(*, today: date = DEMO_TODAY, seed: int = 7) -> Tenant:
    """Build the demo tenant for `today`; the same arguments always give the same tenant."""
    rng = random.Random(seed)
    tenant = Tenant(today=today, seed=seed)
    first_month = add_months(today.replace(day=1), -(MONTHS - 1))
    accounts = profiles(rng, first_month)
    subs = {p.number: _create_account(tenant, p, first_month, rng) for p in accounts}
    for m in range(MONTHS):
        bill_date = add_months(first_month, m)
        run = _create_bill_run(tenant, m + 1, bill_date)
        billed = [p for p in accounts if p.start <= m]
        for p in billed:
            _invoice(tenant, p, subs[p.number], bill_date, run)
        run["numberOfInvoices"] = run["numberOfAccounts"] = len(billed)
        for p in billed:
            _settle(tenant, p, m, bill_date, rng)
    _rate_stories(tenant, first_month, random.Random(seed + 1))
    from bot.sandbox.schedules import seed_schedules

    seed_schedules(tenant)
    _note_fields(tenant)
    from bot.sandbox.portfolio_stories import add_portfolio_stories

    add_portfolio_stories(tenant)  # added after everything above: no existing record changes

    from bot.sandbox.catalog import add_catalog  # the catalog and order stories (issue 16), after the history

    add_catalog(tenant)
    return tenant


def _note_fields(tenant: Tenant) -> None:
    """Account custom fields the customer notes read (issue 17): a high-touch account and a language by field
    (other accounts get theirs from the bill-to country)."""
    for number, fields in (("A00000010", {"HighTouch__c": True}), ("A00000012", {"Language__c": "it"})):
        account = tenant.find("accounts", number)
        if account is not None:
            account["custom"].update(fields)


def _rate_stories(tenant: Tenant, first_month: date, rng: random.Random) -> None:
    """The tax rate, discount rate and volume tier stories (module docstring), after everything else."""
    from bot.sandbox.payments import record_payment
    from bot.sandbox.profiles import _PLACES

    last, this = add_months(first_month, MONTHS - 2), add_months(first_month, MONTHS - 1)
    texas = _PLACES[2]
    stories = [
        (Profile(number=71, name="Taxonomy Books", start=MONTHS - 2, plan="Growth", seats=[(last, 10)],
                 place=texas, payer="card", usage={}), (D("8.25"), D("9.5"))),
        (Profile(number=72, name="Discovery Toys", start=MONTHS - 2, plan="Growth", seats=[(last, 20)],
                 place=texas, payer="card", usage={}, discount=(D(10), 1)), (D("8.25"), D("8.25"))),
        (Profile(number=73, name="Volumetric Labs", start=MONTHS - 2, plan="Growth", seats=[(last, 10), (this, 15)],
                 place=texas, payer="card", usage={}), (D("8.25"), D("8.25"))),
    ]
    for p, rates in stories:
        sub = _create_account(tenant, p, first_month, rng)
        charges = {c.name: c for rp in sub["ratePlans"] for c in rp["charges"]}
        charges["Seats"].segments[0].price = STORIES["volume_tier"]["prices"][0]  # type: ignore[index]
        if p.number == 72:  # 10 % last month, 20 % from this month on
            discount = charges["Launch discount"]
            discount.segments = [Segment(start=last, price=D(10), end=this - timedelta(days=1)),
                                 Segment(start=this, price=D(20))]
            discount.segment_ids.append(tenant.new_id("rpc"))
        if p.number == 73:  # 15 seats reach the 11+ tier: 25.00 each, for all of them
            charges["Seats"].segments[1].price = STORIES["volume_tier"]["prices"][1]  # type: ignore[index]
        account = tenant.find("accounts", f"A{p.number:08d}")
        assert account is not None
        for bill_date, rate in zip((last, this), rates, strict=True):
            account["taxRate"] = rate
            _invoice(tenant, p, sub, bill_date, {"billRunNumber": None, "id": None})
            invoice = tenant.invoices[tenant.invoices_of[account["id"]][-1]]
            invoice.update(source="API", sourceId=None, billRunId=None)  # billed on their own, not in a bill run
            record_payment(tenant, account, [(invoice, invoice["balance"])], invoice["balance"], bill_date,
                           "Electronic", account["defaultPaymentMethodId"])


def _dt(day: date, hour: int = 2, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute))


def _create_account(tenant: Tenant, p: Profile, first_month: date, rng: random.Random) -> dict:
    country, state, city, currency, _, _ = p.place
    start = add_months(first_month, p.start)
    account_id = tenant.new_id("account")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    domain = "".join(ch for ch in p.name.lower() if ch.isalnum())[:16] + ".example"
    contact = {"id": tenant.new_id("contact"), "firstName": first, "lastName": last,
               "workEmail": f"{first.lower()}.{last.lower()}@{domain}".encode("ascii", "ignore").decode(),
               "workPhone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
               "address1": f"{rng.randint(1, 999)} {rng.choice(['Market', 'Main', 'Harbor', 'Elm'])} Street",
               "city": city, "state": state, "country": country, "zipCode": f"{rng.randint(10000, 99999)}"}
    account = tenant.add("accounts", {
        "id": account_id, "accountNumber": f"A{p.number:08d}", "name": p.name, "status": "Active",
        "currency": currency, "billCycleDay": 1, "paymentTerm": "Net 30", "batch": "Batch1",
        "autoPay": p.payer != "external", "billToContact": contact, "soldToContact": contact,
        "createdDate": _dt(start - timedelta(days=7), 10), "updatedDate": _dt(start - timedelta(days=7), 10),
        "invoiceDeliveryPrefsEmail": True, "invoiceDeliveryPrefsPrint": False, "custom": {},
        "taxRate": p.place[5], "taxName": p.place[4], "payer": p.payer,
    }, "accountNumber")
    _create_payment_methods(tenant, account, p, contact)
    return _create_subscription(tenant, account, p, start)


def _create_payment_methods(tenant: Tenant, account: dict, p: Profile, contact: dict) -> None:
    holder = {"accountHolderName": f"{contact['firstName']} {contact['lastName']}", "email": contact["workEmail"],
              "phone": contact["workPhone"], "addressLine1": contact["address1"], "city": contact["city"],
              "state": contact["state"], "zipCode": contact["zipCode"], "country": contact["country"]}
    common = {"accountId": account["id"], "isDefault": True, "status": "Active", "numConsecutiveFailures": 0,
              "maxConsecutivePaymentFailures": 4, "paymentRetryWindow": 24, "useDefaultRetryRule": True,
              "totalNumberOfProcessedPayments": 0, "totalNumberOfErrorPayments": 0, "lastTransaction": None,
              "lastTransactionDateTime": None, "lastFailedSaleTransactionDate": None,
              "accountHolderInfo": holder, "createdDate": account["createdDate"],
              "updatedDate": account["createdDate"]}
    if p.payer == "card":
        brand, last4, month, year = p.card or ("Visa", "4242", 12, 2030)
        pm = {"id": tenant.new_id("pm"), "type": "CreditCard", "cardNumber": "************" + last4,
              "creditCardType": brand, "expirationMonth": month, "expirationYear": year,
              "bankIdentificationNumber": "424242", **common}
    else:
        pm = {"id": tenant.new_id("pm"), "type": "ACH", "bankABACode": "011000015",
              "bankAccountName": account["name"], "bankAccountNumber": "*****" + f"{p.number:04d}"[-4:],
              "bankAccountType": "BusinessChecking", "bankName": "First Demo Bank", **common}
    tenant.add("payment_methods", pm)
    account["defaultPaymentMethodId"] = pm["id"]


def _create_subscription(tenant: Tenant, account: dict, p: Profile, start: date) -> dict:
    def charge(name: str, kind: str, model: str, uom: str | None, segments: list[Segment], **kw: object) -> Charge:
        c = Charge(number=tenant.next_number("charge", "C-{:08d}"), name=name, charge_type=kind, model=model,
                   uom=uom, segments=segments, **kw)  # type: ignore[arg-type]
        c.segment_ids = [tenant.new_id("rpc") for _ in segments]
        c.product_rate_plan_charge_id = tenant.new_id(f"prpc:{name}")
        c.sku = f"SKU-{name.upper().replace(' ', '-')[:12]}"
        return c

    price = PLAN_PRICES[p.plan]
    seat_segments = []
    for i, (when, qty) in enumerate(p.seats):
        end = p.seats[i + 1][0] - timedelta(days=1) if i + 1 < len(p.seats) else None
        seat_segments.append(Segment(start=when, quantity=D(qty), price=price, end=end))
    seats = charge("Seats", "Recurring", "PerUnit", "Seat", seat_segments)
    calls = charge("API calls", "Usage", "Overage", "API Call", [Segment(start=start, price=D("0.02"))],
                   included_units=D(p.included),
                   usage={add_months(start, i - p.start): D(q) for i, q in p.usage.items()})
    plan_charges = [seats, calls]
    if p.platform_fee:
        plan_charges.append(charge("Platform fee", "Recurring", "FlatFee", None,
                                   [Segment(start=start, price=p.platform_fee)]))
    if p.setup_fee:
        plan_charges.append(charge("Onboarding", "OneTime", "FlatFee", None, [Segment(start=start,
                                                                                      price=p.setup_fee)]))
    rate_plans = [{"name": p.plan, "charges": plan_charges, "id": tenant.new_id("rp")}]
    if p.discount:
        percent, months = p.discount
        end = month_end(add_months(start, months - 1))
        name = "Non-profit discount" if percent == 100 else "Launch discount"
        disc = charge(name, "Recurring", "DiscountPercentage", None,
                      [Segment(start=start, price=percent, end=end)], applies_to=[seats.number])
        rate_plans.append({"name": name, "charges": [disc], "id": tenant.new_id("rp")})
    number = tenant.next_number("subscription", "A-S{:08d}")
    sub = tenant.add("subscriptions", {
        "id": tenant.new_id("subscription"), "subscriptionNumber": number, "accountId": account["id"],
        "status": "Active", "termType": "TERMED", "initialTerm": 12, "renewalTerm": 12,
        "termStartDate": start, "termEndDate": add_months(start, 12) - timedelta(days=1),
        "subscriptionStartDate": start, "contractEffectiveDate": start, "autoRenew": True,
        "currency": account["currency"], "ratePlans": rate_plans, "createdDate": _dt(start - timedelta(days=7)),
    }, "subscriptionNumber")
    _create_orders(tenant, sub, seats)
    _create_usage(tenant, account, sub, calls)
    sub["version"] = 1 + len(seat_segments) - 1
    return sub


def _create_orders(tenant: Tenant, sub: dict, seats: Charge) -> None:
    def order(day: date, action: dict, base: int) -> None:
        tenant.add("orders", {
            "id": tenant.new_id("order"), "orderNumber": tenant.next_number("order", "O-{:08d}"),
            "orderDate": day, "status": "Completed", "category": "NewSales", "subscriptionNumber":
            sub["subscriptionNumber"], "createdDate": _dt(day, 9), "updatedDate": _dt(day, 9),
            "subscriptions": [{"subscriptionNumber": sub["subscriptionNumber"], "baseVersion": base,
                               "newVersion": base + 1, "orderActions": [action]}]}, "orderNumber")

    def triggers(day: date) -> list[dict]:
        return [{"name": n, "triggerDate": day} for n in ("ContractEffective", "ServiceActivation",
                                                          "CustomerAcceptance")]

    order(sub["subscriptionStartDate"], {"type": "CreateSubscription", "sequence": 0,
                                         "triggerDates": triggers(sub["subscriptionStartDate"])}, 0)
    for i, seg in enumerate(seats.segments[1:], start=1):
        order(seg.start, {"type": "UpdateProduct", "sequence": 0, "triggerDates": triggers(seg.start),
                          "updateProduct": {"ratePlanId": sub["ratePlans"][0]["id"], "chargeUpdates": [{
                              "chargeNumber": seats.number, "effectiveDate": {"specificTriggerDate": seg.start},
                              "pricing": {"recurringPerUnit": {"quantity": seg.quantity}}}]}}, i)


def _create_usage(tenant: Tenant, account: dict, sub: dict, calls: Charge) -> None:
    for month, quantity in sorted(calls.usage.items()):
        if month >= tenant.today.replace(day=1):
            continue  # the current month's usage is not uploaded yet
        tenant.add("usage", {
            "id": tenant.new_id("usage"), "accountId": account["id"], "accountNumber": account["accountNumber"],
            "accountName": account["name"], "subscriptionId": sub["id"],
            "subscriptionNumber": sub["subscriptionNumber"],
            "chargeNumber": calls.number, "ratePlanChargeId": calls.segment_ids[0],
            "productRatePlanChargeId": calls.product_rate_plan_charge_id, "startDateTime": _dt(month, 0),
            "endDateTime": _dt(month_end(month), 23, 59), "quantity": quantity, "unitOfMeasure": "API Call",
            "sourceName": "API", "status": "Processed", "submissionDateTime": _dt(add_months(month, 1), 1),
            "uniqueKey": f"{account['accountNumber']}-{month:%Y%m}",
        })


def _create_bill_run(tenant: Tenant, n: int, bill_date: date) -> dict:
    start = _dt(bill_date, 2)
    return tenant.add("bill_runs", {
        "id": tenant.new_id("billrun"), "billRunNumber": f"BR-{n:08d}", "name": f"Monthly {bill_date:%B %Y}",
        "status": "Completed", "targetDate": bill_date, "invoiceDate": bill_date, "batches": ["AllBatches"],
        "billCycleDay": 1, "autoPost": True, "autoEmail": True, "autoRenewal": False,
        "noEmailForZeroAmountInvoice": True, "createdDate": start, "updatedDate": start + timedelta(minutes=9),
        "executedDate": start, "startDate": start, "endDate": start + timedelta(minutes=9),
        "totalTime": 9 * 60 * 1000 + 123, "numberOfCreditMemos": 0, "errorMessage": None,
    }, "billRunNumber")


def _invoice(tenant: Tenant, p: Profile, sub: dict, bill_date: date, run: dict) -> None:
    account = tenant.find("accounts", f"A{p.number:08d}")
    assert account is not None
    charges = [c for rp in sub["ratePlans"] for c in rp["charges"]]
    lines = lines_for_month(charges, bill_date, account["taxRate"])
    invoice_id = tenant.new_id("invoice")
    created = _dt(bill_date, 2, 5)
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
        _add_item(tenant, invoice, sub, ln, ids, account, created)


def _add_item(tenant: Tenant, invoice: dict, sub: dict, ln: Line, ids: dict[int, str], account: dict,
              created: datetime) -> None:
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


def _settle(tenant: Tenant, p: Profile, m: int, bill_date: date, rng: random.Random) -> None:
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
        "createdDate": _dt(day, 11), "updatedDate": _dt(day, 11), "postedOn": _dt(day, 11),
    }, "number")
    tenant.apply_to_invoice(invoice, money(amount), kind="credit")
    invoice["updatedDate"] = memo["updatedDate"]
