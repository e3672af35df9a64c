"""Formatting of amounts, quantities and periods for answers (pure; `Decimal` in, text out), and the one
parser of amounts people type (`parse_amount`).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["CENT", "MAX_INTEGER_DIGITS", "AmountError", "cents", "money", "parse_amount", "period", "price", "qty",
           "to_cents", "units"]

CENT = Decimal("0.01")
MAX_INTEGER_DIGITS = 12
"""Digits before the decimal point in an amount someone typed (a trillion less a cent at most)."""
_AMOUNT = re.compile(r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_NOT_FINITE = re.compile(r"(?i)nan|inf")
_EXPONENT = re.compile(r"(?i)[0-9.]e[+-]?[0-9]")


class AmountError(ValueError):
    """Text that is not an amount we accept; the message says why, in words for the person who typed it."""


def parse_amount(text: str) -> Decimal:
    """`125.50`, `1,250.50`, `$1,250.50`, `-30` → a finite `Decimal`; raises `AmountError` otherwise.

    Refused, each with its own message: nothing typed, NaN and infinities, exponents (`1e6`), more
    than `MAX_INTEGER_DIGITS` digits before the decimal point, and anything else that is not plain
    digits with optional thousands commas and decimals (one leading `$`, `€` or `£` is allowed).
    """
    raw = " ".join(str(text).split())
    shown = raw if len(raw) <= 40 else raw[:39] + "…"
    core = raw.replace(" ", "")
    sign = core[:1] if core[:1] in "+-" and core else ""
    rest = core[len(sign):]
    core = sign + (rest[1:] if rest[:1] in ("$", "€", "£") else rest)
    if not core:
        raise AmountError("No amount was given; write one like 1,250.50")
    if _NOT_FINITE.search(core):
        raise AmountError(f"{shown!r} is not an amount: NaN and infinity are not numbers I can use")
    if _EXPONENT.search(core):
        raise AmountError(f"{shown!r} is written with an exponent; write the digits, like 1250000")
    if len(core) > 40 or not _AMOUNT.fullmatch(core):
        raise AmountError(f"{shown!r} is not an amount; write one like 1,250.50")
    digits = core.lstrip("+-").split(".")[0].replace(",", "").lstrip("0")
    if len(digits) > MAX_INTEGER_DIGITS:
        raise AmountError(f"{shown!r} has more than {MAX_INTEGER_DIGITS} digits before the decimal point")
    return Decimal(core.replace(",", ""))


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
