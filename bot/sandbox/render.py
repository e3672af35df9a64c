"""Turn stored records into Zuora's JSON: v1 and Object Query name and format fields differently.

v1 datetimes are `yyyy-mm-dd hh:mm:ss` (tenant-local); Object Query uses ISO 8601 with an offset;
custom objects use ISO with milliseconds and `Z`. Amounts are emitted as JSON numbers.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["INTERNAL", "iso", "json_bytes", "oq_invoice", "oq_item", "oq_payment", "v1", "v1_dt",
           "v1_invoice", "v1_item", "v1_payment"]

TENANT_OFFSET = "-08:00"
INTERNAL = {"custom", "taxRate", "taxName", "payer", "taxBalance", "applications", "ratePlanName",
            "invoiceId", "chargeNumber", "declineWith"}


def v1_dt(value: datetime) -> str:
    """v1's datetime style."""
    return value.strftime("%Y-%m-%d %H:%M:%S")


def iso(value: datetime) -> str:
    """Object Query's datetime style (ISO 8601 with the tenant's offset)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S") + TENANT_OFFSET


def _plain(value: Any, dt: Any) -> Any:
    if isinstance(value, datetime):
        return dt(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v, dt) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, dt) for v in value]
    return value


def v1(record: dict[str, Any], *, drop: set[str] = INTERNAL) -> dict[str, Any]:
    """A record in v1 style, without the sandbox's internal fields."""
    return {k: _plain(v, v1_dt) for k, v in record.items() if k not in drop}


def _oq(record: dict[str, Any], renames: dict[str, str], drop: set[str]) -> dict[str, Any]:
    return {renames.get(k, k): _plain(v, iso) for k, v in record.items() if k not in drop and k not in INTERNAL}


def v1_invoice(invoice: dict[str, Any]) -> dict[str, Any]:
    """`InvoiceResponse` body fields."""
    return v1(invoice)


def oq_invoice(invoice: dict[str, Any]) -> dict[str, Any]:
    """`ExpandedInvoice` fields: no `billRunId`, ISO datetimes, `postedDate` as a datetime."""
    out = _oq(invoice, {}, {"billRunId", "postedDate"})
    posted = invoice.get("postedDate")
    if posted:
        out["postedDate"] = iso(datetime.combine(posted, datetime.min.time()).replace(hour=2, minute=5))
    out["reversed"] = False
    out["isSplit"] = False
    return out


_V1_ITEM_DROP = INTERNAL | {"accountId", "updatedDate"}


def v1_item(item: dict[str, Any]) -> dict[str, Any]:
    """`InvoiceItem` fields (v1): `subscriptionName` holds the subscription number."""
    out = v1(item, drop=_V1_ITEM_DROP)
    out["taxationItems"] = {"data": out["taxationItems"]}
    return out


_OQ_PROCESSING = {"Charge": "0", "Discount": "1", "Prepayment": "2", "Tax": "3"}


def oq_item(item: dict[str, Any]) -> dict[str, Any]:
    """`ExpandedInvoiceItem` fields: `chargeNumber`, `subscriptionNumber`, `sKU`, `uOM`, coded type."""
    out = _oq(item, {"chargeId": "ratePlanChargeId", "subscriptionName": "subscriptionNumber", "sku": "sKU",
                     "unitOfMeasure": "uOM", "appliedToItemId": "appliedToInvoiceItemId"},
              {"taxationItems", "chargeType", "chargeDescription", "productName", "availableToCreditAmount"})
    out["invoiceId"] = item["invoiceId"]
    out["chargeNumber"] = item["chargeNumber"]
    out["processingType"] = _OQ_PROCESSING.get(item["processingType"], "0")
    out["createdDate"] = out["chargeDate"]
    return out


_PAYMENT_DROP = INTERNAL | {"accountNumber"}


def v1_payment(payment: dict[str, Any]) -> dict[str, Any]:
    """`Payment` fields (v1): `number`, dates as `yyyy-mm-dd`."""
    return v1(payment, drop=INTERNAL)


def oq_payment(payment: dict[str, Any], *, applications: bool = False) -> dict[str, Any]:
    """`ExpandedPayment` fields: `paymentNumber`, `isStandalone`."""
    out = _oq(payment, {"number": "paymentNumber"}, _PAYMENT_DROP | {"gatewayId", "creditBalanceAmount"})
    out["isStandalone"] = False
    if applications:
        out["paymentApplications"] = [
            {"id": a["id"], "applyAmount": a["amount"], "invoiceId": a["invoiceId"], "paymentId": payment["id"],
             "effectiveDate": payment["effectiveDate"].isoformat(), "paymentApplicationStatus": "Processed",
             "createdDate": iso(a["createdDate"])} for a in payment["applications"]]
    return out


def _number(value: Decimal) -> int | float:
    # JSON numbers are doubles for nearly every reader; amounts with < 15 significant digits
    # survive the trip exactly, and Zuora itself writes them this way.
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(value)
    return float(value)


def json_bytes(body: Any) -> bytes:
    """Serialise a response body with `Decimal` as JSON numbers."""
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return _number(value)
        if isinstance(value, datetime):
            return v1_dt(value)
        if isinstance(value, date):
            return value.isoformat()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    return json.dumps(body, default=default, separators=(",", ":")).encode()
