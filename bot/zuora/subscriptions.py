"""Subscriptions (with charge segments), their orders, and usage."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from bot.zuora.base import Resource, ZuoraModel, query_params
from bot.zuora.keys import segment

__all__ = ["ChargeSegment", "Order", "RatePlan", "RatePlanCharge", "Subscription", "Subscriptions", "Usage",
           "UsageRecord"]

ChargeDetail = Literal["last-segment", "current-segment", "all-segments", "specific-segment"]


class ChargeSegment(ZuoraModel):
    """One segment of a charge (`chargeSegments[]` with `charge_detail="all-segments"`)."""

    segment_id: str = Field(alias="id")
    segment: int | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    discount_percentage: Decimal | None = Field(default=None, alias="discountPercentage")
    effective_start_date: date | None = Field(default=None, alias="effectiveStartDate")
    effective_end_date: date | None = Field(default=None, alias="effectiveEndDate")


class RatePlanCharge(ZuoraModel):
    """A subscription charge segment: `charge_id` changes per segment, `charge_number` does not."""

    charge_id: str = Field(alias="id")
    charge_number: str = Field(alias="number")
    name: str
    charge_type: str = Field(alias="type")
    model: str | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    uom: str | None = None
    discount_percentage: Decimal | None = Field(default=None, alias="discountPercentage")
    discount_amount: Decimal | None = Field(default=None, alias="discountAmount")
    billing_period: str | None = Field(default=None, alias="billingPeriod")
    effective_start_date: date | None = Field(default=None, alias="effectiveStartDate")
    effective_end_date: date | None = Field(default=None, alias="effectiveEndDate")
    segment: int | None = None
    is_last_segment: bool | None = Field(default=None, alias="isLastSegment")
    segments: list[ChargeSegment] = Field(default=[], alias="chargeSegments")
    """Every segment of the charge, with `charge_detail="all-segments"`."""


class RatePlan(ZuoraModel):
    """A rate plan of a subscription."""

    rate_plan_id: str = Field(alias="id")
    product_name: str | None = Field(default=None, alias="productName")
    rate_plan_name: str | None = Field(default=None, alias="ratePlanName")
    last_change_type: str | None = Field(default=None, alias="lastChangeType")
    charges: list[RatePlanCharge] = Field(default=[], alias="ratePlanCharges")


class Subscription(ZuoraModel):
    """A subscription version."""

    subscription_id: str = Field(alias="id")
    subscription_number: str = Field(alias="subscriptionNumber")
    version: int | None = None
    status: str
    account_id: str | None = Field(default=None, alias="accountId")
    account_number: str | None = Field(default=None, alias="accountNumber")
    term_start_date: date | None = Field(default=None, alias="termStartDate")
    term_end_date: date | None = Field(default=None, alias="termEndDate")
    contracted_mrr: Decimal | None = Field(default=None, alias="contractedMrr")
    currency: str | None = None
    rate_plans: list[RatePlan] = Field(default=[], alias="ratePlans")


class Order(ZuoraModel):
    """An order that changed a subscription; `actions` lists `(type, trigger date)` pairs."""

    order_number: str = Field(alias="orderNumber")
    order_date: date = Field(alias="orderDate")
    status: str
    description: str | None = None
    subscriptions: list[dict[str, Any]] = []

    @property
    def actions(self) -> list[tuple[str, date | None]]:
        """The order actions as (type, contract-effective date)."""
        out: list[tuple[str, date | None]] = []
        for sub in self.subscriptions:
            for action in sub.get("orderActions") or []:
                when = next((t.get("triggerDate") for t in action.get("triggerDates") or []
                             if t.get("name") == "ContractEffective"), None)
                out.append((action.get("type", ""), date.fromisoformat(when) if when else None))
        return out


class UsageRecord(ZuoraModel):
    """One usage record (v1 `UsageItem`)."""

    usage_id: str = Field(alias="id")
    account_number: str | None = Field(default=None, alias="accountNumber")
    subscription_number: str | None = Field(default=None, alias="subscriptionNumber")
    charge_number: str | None = Field(default=None, alias="chargeNumber")
    start_date_time: str = Field(alias="startDateTime")
    quantity: Decimal
    unit_of_measure: str | None = Field(default=None, alias="unitOfMeasure")
    status: str | None = None


class Subscriptions(Resource):
    """`client.subscriptions`."""

    def get(self, subscription_key: str, *, charge_detail: ChargeDetail | None = None,
            as_of_date: date | None = None) -> Subscription:
        """The latest version of a subscription; `all-segments` adds every charge segment."""
        params: dict[str, str] = {}
        if charge_detail:
            params["charge-detail"] = charge_detail
        if as_of_date:
            params["as-of-date"] = as_of_date.isoformat()
        return Subscription.model_validate(self._client.get(f"/v1/subscriptions/{segment(subscription_key)}", params))

    def version(self, subscription_key: str, version: int) -> Subscription:
        """One specific version of a subscription."""
        return Subscription.model_validate(
            self._client.get(f"/v1/subscriptions/{segment(subscription_key)}/versions/{segment(version)}"))

    def orders(self, subscription_number: str) -> list[Order]:
        """The orders that changed a subscription, oldest first."""
        rows = self._client.iter_v1(f"/v1/orders/subscription/{segment(subscription_number)}", "orders", page_size=40)
        return [Order.model_validate(r) for r in rows]


class Usage(Resource):
    """`client.usage`."""

    def of_account(self, account_key: str, *, page_size: int = 40) -> Iterator[UsageRecord]:
        """Stream an account's usage records, newest first."""
        for row in self._client.iter_v1(f"/v1/usage/accounts/{segment(account_key)}", "usage", page_size=page_size):
            yield UsageRecord.model_validate(row)

    def query(self, *, filters: list[str], page_size: int = 50) -> Iterator[dict[str, Any]]:
        """Stream usage through Object Query (e.g. `accountid.EQ:…`, `startdatetime.GE:…`)."""
        yield from self._client.iter_query("/object-query/usages", query_params(filters=filters),
                                           page_size=page_size)
