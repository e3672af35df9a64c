"""Formatting of amounts, quantities, counts and periods for answers (pure; `Decimal` in, text out), and the
one parser of amounts people type (`parse_amount`).

Amounts show their currency's minor units (ISO 4217, from Babel's CLDR data): `1,000 JPY`, `12.50 USD`,
`1.250 KWD`; digits beyond them (a unit price of 0.015 USD) are kept, never rounded away. Counts
are spelt with real plurals: `1 invoice`, `2 invoices`.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision

__all__ = ["CENT", "MAX_INTEGER_DIGITS", "AmountError", "cents", "count", "minor_units", "money", "parse_amount",
           "period", "plural", "price", "qty", "to_cents", "to_minor", "units"]

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


@lru_cache(maxsize=256)
def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (ISO 4217): USD 2, JPY 0, KWD 3; 2 when unknown."""
    code = (currency or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        return 2
    return int(get_currency_precision(code))


def to_minor(amount: Decimal, currency: str) -> Decimal:
    """`amount` with at least the currency's minor units (`250` → `250.00` USD, `1000` JPY stays `1000`);
    digits beyond them are kept."""
    rounded = amount.quantize(Decimal(1).scaleb(-minor_units(currency)))
    return rounded if rounded == amount else amount.normalize()


def money(amount: Decimal, currency: str, *, signed: bool = False) -> str:
    """`1,234.50 USD`, `1,000 JPY`, `1.250 KWD`; with `signed`, `+1,234.50 USD` / `-30.00 USD`.

    The amount shows its currency's minor units; digits beyond them (sub-cent amounts) are kept.
    """
    text = f"{abs(to_minor(amount, currency)):,}"
    sign = "-" if amount < 0 else ("+" if signed else "")
    return f"{sign}{text} {currency}"


_IRREGULAR = {"person": "people", "child": "children", "entry": "entries", "day": "days", "key": "keys"}
_UNCOUNTED = {"each", "usage", "data", "storage", "traffic", "bandwidth", "compute", "ea"}


def plural(noun: str) -> str:
    """The English plural of `noun` (of its last word): `invoice` → `invoices`, `API Call` → `API Calls`,
    `entry` → `entries`, `match` → `matches`, `GB` → `GB`; a noun already plural is kept."""
    head, _, last = noun.rpartition(" ")
    low = last.lower()
    already = low.endswith("s") and not low.endswith("ss")
    if not last or low in _UNCOUNTED or (last.isupper() and len(last) <= 4) or already:
        word = last
    elif low in _IRREGULAR:
        word = _IRREGULAR[low] if last.islower() else last[0] + _IRREGULAR[low][1:]
    elif low.endswith("y") and low[-2:-1] not in ("a", "e", "i", "o", "u"):
        word = last[:-1] + "ies"
    elif low.endswith(("ss", "x", "ch", "sh", "z")):
        word = last + "es"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def count(n: int | Decimal, noun: str, plural_form: str | None = None) -> str:
    """`1 invoice`, `0 invoices`, `1,250 rows`: the number and the noun, singular only for exactly one."""
    return f"{qty(Decimal(n))} {noun if n == 1 else plural_form or plural(noun)}"


def to_cents(amount: Decimal) -> Decimal:
    """`amount` with at least two decimal places (`250.0` → `250.00`); sub-cent digits are kept."""
    return amount if amount.as_tuple().exponent < -2 else amount.quantize(CENT)  # type: ignore[operator]


def price(value: Decimal | None) -> str:
    """A unit price: at least two decimals (`30.00`, `0.02`, `0.015`)."""
    return "?" if value is None else f"{to_cents(value.normalize()):,f}"


def units(amount: Decimal | None, unit_of_measure: str | None) -> str:
    """`23,500 API Calls`, `1 Seat`, `2.5 Hours`, or just the number when there is no unit."""
    if not unit_of_measure:
        return qty(amount)
    return f"{qty(amount)} {unit_of_measure if amount == 1 else plural(unit_of_measure)}"


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
