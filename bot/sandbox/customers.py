"""One customer of the demo tenant, seeded: the account with its contacts, its default payment method (card or
bank account), and its subscription with the charges, the orders that made it and its uploaded usage."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from bot.sandbox.billing import Charge, Segment, add_months, month_end
from bot.sandbox.profiles import FIRST_NAMES, LAST_NAMES, PLAN_PRICES, Profile
from bot.sandbox.state import Tenant

__all__ = ["create_account", "dt"]

D = Decimal


def dt(day: date, hour: int = 2, minute: int = 0) -> datetime:
    """`day` at `hour`:`minute` (the seed's timestamps)."""
    return datetime.combine(day, time(hour, minute))


def create_account(tenant: Tenant, p: Profile, first_month: date, rng: random.Random) -> dict:
    """Add the account of profile `p` with its payment method and subscription; returns the subscription."""
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
        "createdDate": dt(start - timedelta(days=7), 10), "updatedDate": dt(start - timedelta(days=7), 10),
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
        "currency": account["currency"], "ratePlans": rate_plans, "createdDate": dt(start - timedelta(days=7)),
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
            sub["subscriptionNumber"], "createdDate": dt(day, 9), "updatedDate": dt(day, 9),
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
            "productRatePlanChargeId": calls.product_rate_plan_charge_id, "startDateTime": dt(month, 0),
            "endDateTime": dt(month_end(month), 23, 59), "quantity": quantity, "unitOfMeasure": "API Call",
            "sourceName": "API", "status": "Processed", "submissionDateTime": dt(add_months(month, 1), 1),
            "uniqueKey": f"{account['accountNumber']}-{month:%Y%m}",
        })
