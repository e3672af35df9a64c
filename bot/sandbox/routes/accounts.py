"""Accounts: detail, summary, payment methods, and the account update (custom fields included)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bot.sandbox import render
from bot.sandbox.errors import SandboxError
from bot.sandbox.query import cache_of, page, parse_query
from bot.sandbox.routes.common import lower_fields, must_find
from bot.sandbox.routing import Call, Reply, route

_PM_KEYS = {"CreditCard": "creditcard", "ACH": "ach", "PayPal": "paypal", "BankTransfer": "banktransfer",
            "CreditCardReferenceTransaction": "creditcardreferencetransaction", "DebitCard": "debitcard"}
_UPDATABLE = {"name", "notes", "autoPay", "batch", "paymentTerm", "defaultPaymentMethodId", "salesRep", "crmId",
              "invoiceDeliveryPrefsEmail", "invoiceDeliveryPrefsPrint", "purchaseOrderNumber", "billToContact",
              "soldToContact", "additionalEmailAddresses", "communicationProfileId"}


def _mrr(call: Call, account: dict[str, Any]) -> Decimal:
    total = Decimal(0)
    today = call.tenant.today
    for sub in call.tenant.subscriptions.values():
        if sub["accountId"] != account["id"]:
            continue
        for rp in sub["ratePlans"]:
            for charge in rp["charges"]:
                if charge.charge_type == "Recurring" and charge.model in ("PerUnit", "FlatFee"):
                    seg = next((s for s in charge.segments if s.active_on(today)), None)
                    if seg:
                        total += seg.price * (seg.quantity if charge.model == "PerUnit" else 1)
    return total


def _metrics(call: Call, account: dict[str, Any]) -> dict[str, Any]:
    balance = call.tenant.account_balance(account["id"])
    unapplied = call.tenant.unapplied(account["id"])
    credit = sum((m["unappliedAmount"] for m in call.tenant.credit_memos.values()
                  if m["accountId"] == account["id"] and m["status"] == "Posted"), Decimal(0))
    return {"balance": balance - unapplied - credit, "totalInvoiceBalance": balance, "creditBalance": Decimal(0),
            "contractedMrr": _mrr(call, account), "totalDebitMemoBalance": Decimal(0),
            "unappliedPaymentAmount": unapplied, "unappliedCreditMemoAmount": credit,
            "reservedPaymentAmount": Decimal(0), "currency": account["currency"]}


def _contact(contact: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in contact.items() if v is not None}


@route("GET", "/v1/accounts/{key}")
def get_account(call: Call) -> Reply:
    account = must_find(call, "accounts", call.args["key"])
    metrics = _metrics(call, account)
    basic = {"id": account["id"], "accountNumber": account["accountNumber"], "name": account["name"],
             "status": account["status"], "batch": account["batch"], "notes": account.get("notes"),
             "defaultPaymentMethodId": account["defaultPaymentMethodId"], "crmId": account.get("crmId"),
             "salesRep": account.get("salesRep"), "lastMetricsUpdate": render.v1_dt(call.tenant.now()),
             **account["custom"]}
    billing = {"billCycleDay": account["billCycleDay"], "currency": account["currency"],
               "paymentTerm": account["paymentTerm"], "paymentGateway": "Demo Gateway", "autoPay": account["autoPay"],
               "defaultPaymentMethodId": account["defaultPaymentMethodId"],
               "invoiceDeliveryPrefsEmail": account["invoiceDeliveryPrefsEmail"],
               "invoiceDeliveryPrefsPrint": account["invoiceDeliveryPrefsPrint"], "additionalEmailAddresses": []}
    return Reply({"basicInfo": basic, "billingAndPayment": billing, "metrics": metrics, "metricsData": [metrics],
                  "billToContact": _contact(account["billToContact"]),
                  "soldToContact": _contact(account["soldToContact"]), "success": True})


@route("GET", "/v1/accounts/{key}/summary")
def account_summary(call: Call) -> Reply:
    account = must_find(call, "accounts", call.args["key"])
    tenant = call.tenant
    invoices = sorted((tenant.invoices[i] for i in tenant.invoices_of[account["id"]]),
                      key=lambda i: i["invoiceDate"], reverse=True)
    payments = sorted((tenant.payments[p] for p in tenant.payments_of[account["id"]]),
                      key=lambda p: (p["effectiveDate"], p["number"]), reverse=True)
    processed = [p for p in payments if p["status"] == "Processed"]
    pm = tenant.payment_methods.get(account["defaultPaymentMethodId"] or "")
    default_pm = None
    if pm is not None:
        default_pm = {"id": pm["id"], "paymentMethodType": pm["type"]}
        if pm["type"] == "CreditCard":
            default_pm.update({"creditCardType": pm["creditCardType"], "creditCardNumber": pm["cardNumber"],
                               "creditCardExpirationMonth": pm["expirationMonth"],
                               "creditCardExpirationYear": pm["expirationYear"]})
    basic = {"id": account["id"], "accountNumber": account["accountNumber"], "name": account["name"],
             "status": account["status"], "currency": account["currency"],
             "balance": _metrics(call, account)["balance"],
             "billCycleDay": account["billCycleDay"], "autoPay": account["autoPay"], "batch": account["batch"],
             "lastInvoiceDate": invoices[0]["invoiceDate"].isoformat() if invoices else None,
             "lastPaymentDate": processed[0]["effectiveDate"].isoformat() if processed else None,
             "lastPaymentAmount": processed[0]["amount"] if processed else None,
             "invoiceDeliveryPrefsEmail": account["invoiceDeliveryPrefsEmail"],
             "invoiceDeliveryPrefsPrint": account["invoiceDeliveryPrefsPrint"], "additionalEmailAddresses": [],
             "defaultPaymentMethod": default_pm, **account["custom"]}
    subs = [s for s in tenant.subscriptions.values() if s["accountId"] == account["id"]][:6]
    by_id = {i["id"]: i for i in invoices}
    usage: dict[str, Decimal] = {}
    for record in tenant.usage.values():
        if record["accountId"] == account["id"]:
            month = record["startDateTime"].strftime("%Y-%m")
            usage[month] = usage.get(month, Decimal(0)) + record["quantity"]
    return Reply({
        "basicInfo": basic,
        "subscriptions": [{"id": s["id"], "subscriptionNumber": s["subscriptionNumber"], "status": s["status"],
                           "termType": s["termType"], "termStartDate": s["termStartDate"].isoformat(),
                           "termEndDate": s["termEndDate"].isoformat(),
                           "subscriptionStartDate": s["subscriptionStartDate"].isoformat(),
                           "autoRenew": s["autoRenew"], "initialTerm": s["initialTerm"],
                           "renewalTerm": s["renewalTerm"],
                           "ratePlans": [{"productName": "Relay Platform", "ratePlanName": rp["name"],
                                          "productId": "relay", "productSku": "SKU-RELAY",
                                          "productRatePlanId": rp["id"]} for rp in s["ratePlans"]]} for s in subs],
        "invoices": [{"id": i["id"], "invoiceNumber": i["invoiceNumber"], "invoiceDate": i["invoiceDate"].isoformat(),
                      "dueDate": i["dueDate"].isoformat(), "amount": i["amount"], "balance": i["balance"],
                      "status": i["status"]} for i in invoices[:6]],
        "payments": [{"id": p["id"], "paymentNumber": p["number"], "effectiveDate": p["effectiveDate"].isoformat(),
                      "paymentType": p["type"], "status": p["status"],
                      "paidInvoices": [{"invoiceId": a["invoiceId"],
                                        "invoiceNumber": by_id[a["invoiceId"]]["invoiceNumber"],
                                        "appliedPaymentAmount": a["amount"]} for a in p["applications"]
                                       if a["invoiceId"] in by_id]} for p in payments[:6]],
        "usage": [{"startDate": m, "unitOfMeasure": "API Call", "quantity": q}
                  for m, q in sorted(usage.items(), reverse=True)[:6]],
        "billToContact": _contact(account["billToContact"]), "soldToContact": _contact(account["soldToContact"]),
        "success": True,
    })


def render_pm(pm: dict[str, Any]) -> dict[str, Any]:
    """A payment method as v1 returns it (masked numbers only)."""
    out = render.v1(pm, drop=render.INTERNAL | {"accountId"})
    if pm["type"] == "CreditCard":
        out["creditCardMaskNumber"] = pm["cardNumber"]
    return out


@route("GET", "/v1/accounts/{key}/payment-methods")
def account_payment_methods(call: Call) -> Reply:
    account = must_find(call, "accounts", call.args["key"])
    body: dict[str, Any] = {}
    for pm in call.tenant.payment_methods.values():
        if pm["accountId"] == account["id"]:
            body.setdefault(_PM_KEYS.get(pm["type"], pm["type"].lower()), []).append(render_pm(pm))
    body.update({"defaultPaymentMethodId": account["defaultPaymentMethodId"], "paymentGateway": None,
                 "success": True})
    return Reply(body)


@route("GET", "/v1/accounts/{key}/payment-methods/default")
def default_payment_method(call: Call) -> Reply:
    account = must_find(call, "accounts", call.args["key"])
    pm = call.tenant.payment_methods.get(account["defaultPaymentMethodId"] or "")
    if pm is None:
        raise SandboxError(40, f"Account {account['accountNumber']} has no default payment method.")
    return Reply({**render_pm(pm), "accountKey": account["id"], "success": True})


@route("GET", "/v1/payment-methods/{pm_id}")
def get_payment_method(call: Call) -> Reply:
    return Reply({**render_pm(must_find(call, "payment_methods", call.args["pm_id"])), "success": True})


@route("PUT", "/v1/accounts/{key}")
def update_account(call: Call) -> Reply:
    account = must_find(call, "accounts", call.args["key"])
    body = call.json()
    unknown = [k for k in body if k not in _UPDATABLE and not k.endswith("__c")]
    if unknown:
        raise SandboxError(21, f"Unknown field '{unknown[0]}' in the request", resource=500101)
    for key, value in body.items():
        if key.endswith("__c"):
            account["custom"][key] = value if value != "" else None
        elif key in ("billToContact", "soldToContact") and isinstance(value, dict):
            account[key].update(value)
        else:
            account[key] = value
    account["updatedDate"] = call.tenant.now()
    return Reply({"success": True})


ACCOUNT_FILTERS = ("id", "updateddate", "accountnumber", "name", "status", "currency", "balance", "batch", "crmid")


def _account_field(call: Call, account: dict[str, Any], name: str) -> Any:
    if name == "balance":
        return call.tenant.account_balance(account["id"])
    return lower_fields(account, name)


def _oq_account(call: Call, account: dict[str, Any], expand: Sequence[str] = ()) -> dict[str, Any]:
    metrics = _metrics(call, account)
    out = {"id": account["id"], "accountNumber": account["accountNumber"], "name": account["name"],
            "status": account["status"], "currency": account["currency"], "balance": metrics["balance"],
            "totalInvoiceBalance": metrics["totalInvoiceBalance"], "creditBalance": metrics["creditBalance"],
            "billCycleDay": account["billCycleDay"], "paymentTerm": account["paymentTerm"],
            "autoPay": account["autoPay"], "batch": account["batch"],
            "defaultPaymentMethodId": account["defaultPaymentMethodId"],
            "createdDate": render.iso(account["createdDate"]), "updatedDate": render.iso(account["updatedDate"])}
    if "billto" in expand:  # ExpandedAccount.billTo (ExpandedContact)
        contact = account.get("billToContact") or {}
        out["billTo"] = {"id": contact.get("id"), "firstName": contact.get("firstName"),
                         "lastName": contact.get("lastName"), "country": contact.get("country"),
                         "state": contact.get("state"), "city": contact.get("city")}
    return out


@route("GET", "/object-query/accounts")
def query_accounts(call: Call) -> Reply:
    spec = parse_query(call.params, filterable=ACCOUNT_FILTERS, expandable=("billto",))
    return Reply(page(call.tenant.accounts.values(), spec, lambda a, name: _account_field(call, a, name),
                      lambda a: _oq_account(call, a, spec.expand), cache=cache_of(call.tenant, "accounts")))
