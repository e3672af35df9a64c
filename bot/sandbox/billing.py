"""A tiny billing engine: the invoice items one subscription produces for one billing month.

Recurring charges bill in advance for the month, usage bills in arrears for the month before,
a segment that started mid-way through last month adds a proration line, percentage discounts
add negative lines applied to the recurring items, one-time fees bill on their trigger month, and
every line carries its tax. Amounts are rounded per line, half up; the invoice totals are the sums
of the lines, as in Zuora.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from bot.sandbox.state import money

__all__ = ["Charge", "Line", "Segment", "lines_for_month", "month_end", "add_months"]


@dataclass
class Segment:
    """One version of a charge: its quantity (or price, or discount) from `start` to `end`."""

    start: date
    quantity: Decimal = Decimal(1)
    price: Decimal = Decimal(0)
    end: date | None = None
    """Inclusive last day, or None while the segment is open-ended."""

    def active_on(self, day: date) -> bool:
        """True when `day` falls inside the segment."""
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass
class Charge:
    """A subscription charge. `model` is Zuora's charge model; `segments` its versions in order."""

    number: str
    name: str
    charge_type: str
    """`Recurring`, `Usage` or `OneTime`."""
    model: str
    """`PerUnit`, `FlatFee`, `Overage`, `DiscountPercentage`."""
    uom: str | None
    segments: list[Segment]
    included_units: Decimal = Decimal(0)
    """Usage (`Overage`): units included before the overage price applies."""
    applies_to: list[str] = field(default_factory=list)
    """Discounts: the charge numbers they reduce."""
    usage: dict[date, Decimal] = field(default_factory=dict)
    """Usage: quantity consumed per month (keyed by the month's first day)."""
    segment_ids: list[str] = field(default_factory=list)
    product_rate_plan_charge_id: str = ""
    sku: str = ""


@dataclass
class Line:
    """An invoice line before it becomes an item record."""

    charge: Charge
    segment_index: int
    amount: Decimal
    quantity: Decimal
    unit_price: Decimal
    start: date
    end: date
    processing_type: str = "Charge"
    applied_to: Line | None = None
    tax: Decimal = Decimal(0)
    description: str = ""


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _segment_at(charge: Charge, day: date) -> int | None:
    for index, segment in enumerate(charge.segments):
        if segment.active_on(day):
            return index
    return None


def lines_for_month(charges: list[Charge], bill_date: date, tax_rate: Decimal) -> list[Line]:
    """The lines of the invoice dated `bill_date` (the first of a month) for one subscription."""
    period_end = month_end(bill_date)
    last_start = add_months(bill_date, -1)
    last_end = bill_date - timedelta(days=1)
    last_days = Decimal(last_end.day)
    lines: list[Line] = []
    recurring: dict[str, Line] = {}

    for charge in charges:
        if charge.charge_type == "Recurring" and charge.model in ("PerUnit", "FlatFee"):
            index = _segment_at(charge, bill_date)
            if index is not None:
                seg = charge.segments[index]
                qty = seg.quantity if charge.model == "PerUnit" else Decimal(1)
                line = Line(charge, index, money(qty * seg.price), qty, seg.price, bill_date, period_end)
                lines.append(line)
                recurring[charge.number] = line
            for index, seg in enumerate(charge.segments[1:], start=1):
                if last_start < seg.start <= last_end:
                    previous = charge.segments[index - 1]
                    delta = seg.quantity - previous.quantity
                    days = Decimal((last_end - seg.start).days + 1)
                    amount = money(delta * seg.price * days / last_days)
                    if amount:
                        lines.append(Line(charge, index, amount, delta, seg.price, seg.start, last_end,
                                          description=f"Proration: {delta:+} {charge.uom or 'unit'}s "
                                                      f"for {int(days)} of {int(last_days)} days"))
        elif charge.charge_type == "Usage":
            index = _segment_at(charge, last_start)
            used = charge.usage.get(last_start)
            if index is not None and used is not None:
                seg = charge.segments[index]
                over = max(Decimal(0), used - charge.included_units)
                lines.append(Line(charge, index, money(over * seg.price), used, seg.price, last_start,
                                  last_end))
        elif charge.charge_type == "OneTime":
            seg = charge.segments[0]
            if bill_date <= seg.start <= period_end:
                lines.append(Line(charge, 0, money(seg.price), Decimal(1), seg.price, seg.start, seg.start))

    for charge in charges:
        if charge.model != "DiscountPercentage":
            continue
        index = _segment_at(charge, bill_date)
        if index is None:
            continue
        percent = charge.segments[index].price
        for number in charge.applies_to:
            target = recurring.get(number)
            if target is not None and target.amount:
                lines.append(Line(charge, index, -money(target.amount * percent / 100), Decimal(0),
                                  Decimal(0), bill_date, period_end, processing_type="Discount",
                                  applied_to=target))

    for line in lines:
        line.tax = money(line.amount * tax_rate / 100)
    return lines
