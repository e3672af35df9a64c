"""The product catalog and Orders: find a rate plan by name, preview a subscription change (§18).

`client.catalog.plans()` reads every product rate plan with its charges and prices (Object Query,
expanded); `client.orders.preview(body)` sends `POST /v1/orders/preview` and returns Zuora's
numbers as a `Preview`. Placing an order is a proposal's request, sent by the executor.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field

from bot.zuora.base import Resource, ZuoraModel, query_params

__all__ = ["Catalog", "CatalogCharge", "CatalogPlan", "Orders", "Preview", "PreviewInvoice", "PreviewItem"]


class PriceTier(ZuoraModel):
    currency: str
    price: Decimal | None = None
    discount_percentage: Decimal | None = Field(default=None, alias="discountPercentage")


class CatalogCharge(ZuoraModel):
    """A product rate plan charge with its prices per currency."""

    charge_id: str = Field(alias="id")
    name: str
    charge_type: str = Field(alias="chargeType")
    charge_model: str = Field(alias="chargeModel")
    uom: str | None = Field(default=None, alias="uOM")
    default_quantity: Decimal | None = Field(default=None, alias="defaultQuantity")
    tiers: list[PriceTier] = Field(default=[], alias="productRatePlanChargeTiers")

    def price(self, currency: str) -> Decimal | None:
        """The list price in `currency`, None when the charge has no price in it."""
        tier = next((t for t in self.tiers if t.currency == currency), None)
        if tier is None:
            return None
        return tier.price if tier.price is not None else tier.discount_percentage


class CatalogProduct(ZuoraModel):
    product_id: str = Field(alias="id")
    name: str


class CatalogPlan(ZuoraModel):
    """A product rate plan (`ExpandedProductRatePlan`), its product and charges."""

    plan_id: str = Field(alias="id")
    name: str
    state: str | None = None
    grade: int | None = None
    effective_end_date: date | None = Field(default=None, alias="effectiveEndDate")
    product: CatalogProduct | None = None
    charges: list[CatalogCharge] = Field(default=[], alias="productRatePlanCharges")

    def currencies(self) -> set[str]:
        """The currencies every recurring or discount charge of the plan has a price in."""
        sets = [{t.currency for t in c.tiers} for c in self.charges if c.charge_type != "Usage"]
        return set.intersection(*sets) if sets else set()


class Catalog(Resource):
    """`client.catalog`."""

    def plans(self) -> list[CatalogPlan]:
        """Every product rate plan, with its product and charges (prices included)."""
        params = query_params(expand=["product", "productrateplancharges"])
        return [CatalogPlan.model_validate(r) for r in self._client.iter_query("/object-query/product-rate-plans",
                                                                                 params, page_size=99)]


class PreviewItem(ZuoraModel):
    """A line of a previewed invoice (nothing is created, so no id)."""

    charge_name: str | None = Field(default=None, alias="chargeName")
    charge_description: str | None = Field(default=None, alias="chargeDescription")
    charge_number: str | None = Field(default=None, alias="chargeNumber")
    processing_type: str | None = Field(default=None, alias="processingType")
    service_start_date: date | None = Field(default=None, alias="serviceStartDate")
    service_end_date: date | None = Field(default=None, alias="serviceEndDate")
    amount_without_tax: Decimal = Field(alias="amountWithoutTax")
    tax_amount: Decimal = Field(default=Decimal(0), alias="taxAmount")
    unit_price: Decimal | None = Field(default=None, alias="unitPrice")
    additional_info: dict[str, Any] = Field(default={}, alias="additionalInfo")


class PreviewInvoice(ZuoraModel):
    amount: Decimal
    amount_without_tax: Decimal = Field(alias="amountWithoutTax")
    tax_amount: Decimal = Field(default=Decimal(0), alias="taxAmount")
    target_date: date = Field(alias="targetDate")
    items: list[PreviewItem] = Field(default=[], alias="invoiceItems")


class Preview(ZuoraModel):
    """Zuora's preview of an order: the invoices (and credit memos) it would bill, and the MRR change."""

    invoices: list[PreviewInvoice] = []
    credit_memos: list[PreviewInvoice] = Field(default=[], alias="creditMemos")
    mrr_delta: Decimal = Decimal(0)
    tcv_delta: Decimal | None = None
    """The change in contract value (Zuora's `tcv` metric), None when Zuora sent none."""

    def due_on(self, day: date) -> Decimal:
        """Invoices minus credit memos dated `day` (what is charged then)."""
        return sum((i.amount for i in self.invoices if i.target_date == day), Decimal(0)) - \
            sum((c.amount for c in self.credit_memos if c.target_date == day), Decimal(0))

    def invoice_on(self, day: date) -> PreviewInvoice | None:
        return next((i for i in self.invoices if i.target_date == day), None)


class Orders(Resource):
    """`client.orders`."""

    def preview(self, body: dict[str, Any]) -> Preview:
        """`POST /v1/orders/preview` (creates nothing; a fresh Idempotency-Key each time)."""
        answer = self._client.post("/v1/orders/preview", body)
        result = dict(answer.get("previewResult") or {})
        delta, tcv = Decimal(0), None
        for sub in result.get("chargeMetrics") or []:
            for charge in sub.get("charges") or []:
                cmrr = charge.get("cmrr") or {}
                for key in ("regularDelta", "discountDelta"):
                    if cmrr.get(key) is not None:
                        delta += Decimal(str(cmrr[key]))
                for key in ("regularDelta", "discountDelta"):
                    value = (charge.get("tcv") or {}).get(key)
                    if value is not None:
                        tcv = (tcv or Decimal(0)) + Decimal(str(value))
        result["mrr_delta"] = delta
        result["tcv_delta"] = tcv.quantize(Decimal("0.01")) if tcv is not None else None
        return Preview.model_validate(result)
