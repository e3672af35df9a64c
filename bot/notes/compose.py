"""A customer-facing invoice note from the explainer's drivers, in one language (pure).

`compose(explanation, choice)` writes the full note (head, what changed, one line per driver,
closing) with dates, numbers and amounts formatted for the locale by Babel, plus the same note in
English for the reviewer. `short_form` cuts a note to Zuora's `comments` limit (255) at a word
boundary with an ellipsis (the `invoice_note` kind's, which an approver's edit uses too).
The input is anything shaped like `bot.copilot.explanation.Explanation`
(read through the protocols below), so this package needs nothing above it.

    NoteError   a note that cannot be written (nothing to say, a note longer than the field holds)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, get_currency_precision

from bot.actions.kinds.invoice_note import short_form
from bot.notes.language import Choice
from bot.notes.templates import TEMPLATES

__all__ = ["COMMENTS_LIMIT", "FIELD_LIMIT", "Note", "NoteError", "compose", "format_amount", "short_form"]

COMMENTS_LIMIT = 255
"""Zuora's `comments` on an invoice (zuora-api-2.md §22)."""
FIELD_LIMIT = 8192
"""The largest Long Text custom field Zuora allows."""


class NoteError(ValueError):
    """A note that cannot be written; the message says why, for a person."""


class _Invoice(Protocol):
    invoice_number: str
    invoice_date: date
    amount: Decimal
    currency: str


class _Driver(Protocol):
    kind: str
    amount: Decimal
    charge_name: str | None
    period_start: date | None
    period_end: date | None
    quantity_before: Decimal | None
    quantity_after: Decimal | None
    unit_of_measure: str | None


class _Explanation(Protocol):
    mode: str
    invoice: _Invoice
    previous: _Invoice | None
    currency: str
    difference: Decimal | None
    direction: str | None
    @property
    def drivers(self) -> tuple[_Driver, ...]: ...


@dataclass(frozen=True)
class Note:
    """A drafted note: the text in the customer's language, the same in English, and its short form."""

    invoice_number: str
    language: str
    locale: str
    text: str
    english: str
    short: str

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def format_amount(amount: Decimal, currency: str, locale: str) -> str:
    """An amount in the locale's currency format; sub-unit digits are kept, never rounded away."""
    precision = get_currency_precision(currency)
    whole = amount == amount.quantize(Decimal(1).scaleb(-precision))
    return format_currency(abs(amount), currency, locale=locale, currency_digits=whole, decimal_quantization=whole)


def _date(day: date, locale: str) -> str:
    return format_date(day, "long", locale=locale)


def _number(value: Decimal, locale: str) -> str:
    return format_decimal(value.normalize() if value == value.to_integral() else value, locale=locale)


class _Writer:
    def __init__(self, language: str, locale: str, currency: str) -> None:
        self.t = TEMPLATES[language]
        self.locale = locale
        self.currency = currency

    def money(self, amount: Decimal) -> str:
        return format_amount(amount, self.currency, self.locale)

    def delta(self, amount: Decimal, first: bool) -> str:
        if first:
            return (self.t["less"] if amount < 0 else "{amount}").format(amount=self.money(amount))
        return self.t["more" if amount >= 0 else "less"].format(amount=self.money(amount))

    def period(self, start: date | None, end: date | None) -> str:
        if start is None and end is None:
            return ""
        if start is None or end is None or start == end:
            return _date(start or end, self.locale)  # type: ignore[arg-type]
        return self.t["period"].format(start=_date(start, self.locale), end=_date(end, self.locale))

    def quantity(self, value: Decimal | None, unit: str | None) -> str:
        if value is None:
            return "?"
        return f"{_number(value, self.locale)} {unit}".strip() if unit else _number(value, self.locale)

    def driver(self, d: _Driver, first: bool) -> str:
        line = self.t[d.kind].format(
            charge=(d.charge_name or "").strip() or "—", delta=self.delta(d.amount, first),
            period=self.period(d.period_start, d.period_end), q0=self.quantity(d.quantity_before, None),
            q1=self.quantity(d.quantity_after, d.unit_of_measure))
        return "- " + re.sub(r" {2,}", " ", line.replace("()", "").replace("（）", "")).strip()

    def head(self, e: _Explanation) -> list[str]:
        inv = e.invoice
        out = [self.t["head"].format(number=inv.invoice_number, date=_date(inv.invoice_date, self.locale),
                                     total=self.money(inv.amount))]
        prev = e.previous
        if e.mode == "first_invoice" or prev is None:
            out.append(self.t["first"])
        elif e.mode == "mixed_currency":
            out.append(self.t["mixed"].format(prev=prev.invoice_number))
        else:
            out.append(self.t[e.direction or "equal"].format(
                diff=self.money(e.difference or Decimal(0)), prev=prev.invoice_number,
                prev_date=_date(prev.invoice_date, self.locale), prev_total=self.money(prev.amount)))
        return out


def _write(e: _Explanation, language: str, locale: str) -> str:
    w = _Writer(language, locale, e.invoice.currency)
    first = e.mode == "first_invoice" or e.previous is None
    lines = w.head(e)
    if e.mode != "mixed_currency":
        lines += [w.driver(d, first) for d in e.drivers]
    lines.append(w.t["closing"])
    return "\n".join(lines)


def compose(e: _Explanation, choice: Choice, *, limit: int = FIELD_LIMIT) -> Note:
    """The note for an explained invoice in `choice.language`, with its English rendering and short form."""
    if choice.language not in TEMPLATES:
        raise NoteError(f"There are no note templates for {choice.language!r}.")
    text = _write(e, choice.language, choice.locale)
    english = text if choice.language == "en" else _write(e, "en", "en")
    if len(text) > limit:
        raise NoteError(f"The note for {e.invoice.invoice_number} is {len(text):,} characters; the invoice field "
                        f"holds {limit:,}. Shorten it, or use a larger Long Text field.")
    return Note(invoice_number=e.invoice.invoice_number, language=choice.language, locale=choice.locale, text=text,
                english=english, short=short_form(text))
