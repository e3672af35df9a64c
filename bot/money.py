"""Formatting of amounts, quantities and periods for answers (pure; `Decimal` in, text out)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["CENT", "cents", "money", "period", "price", "qty", "to_cents", "units"]

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """`amount` rounded half-up to the cent."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal, currency: str, *, signed: bool = False) -> str:
    """`1,234.50 USD`; with `signed`, `+1,234.50 USD` / `-30.00 USD`. Sub-cent amounts keep their digits."""
    text = f"{abs(to_cents(amount)):,}"
    sign = "-" if amount < 0 else ("+" if signed else "")
    return f"{sign}{text} {currency}"


def to_cents(amount: Decimal) -> Decimal:
    """`amount` with at least two decimal places (`250.0` → `250.00`); sub-cent digits are kept."""
    return amount if amount.as_tuple().exponent < -2 else amount.quantize(CENT)  # type: ignore[operator]


def price(value: Decimal | None) -> str:
    """A unit price: at least two decimals (`30.00`, `0.02`, `0.015`)."""
    return "?" if value is None else f"{to_cents(value.normalize()):,f}"


def units(count: Decimal | None, unit_of_measure: str | None) -> str:
    """`23,500 API Calls`, `1 Seat`, or just the number when there is no unit."""
    if not unit_of_measure:
        return qty(count)
    plural = count != 1 and not unit_of_measure.endswith("s")
    return f"{qty(count)} {unit_of_measure}{'s' if plural else ''}"


def qty(value: Decimal | None) -> str:
    """A quantity or unit price without noise: `15`, `23,500`, `0.02`."""
    if value is None:
        return "?"
    normal = value.normalize()
    if normal == normal.to_integral_value():
        return f"{int(normal):,}"
    return f"{normal:,f}"


def period(start: date | None, end: date | None) -> str:
    """`2026-01-15 to 2026-01-31`, or the single date of a one-day service period."""
    if start is None and end is None:
        return "no service period"
    if start is None or end is None or start == end:
        return str(start or end)
    return f"{start} to {end}"
