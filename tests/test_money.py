"""Amounts in each currency's minor units, and counts with real plurals (`bot.money`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.money import count, minor_units, money, plural, units


@pytest.mark.parametrize(("amount", "currency", "text"), [
    ("1000", "JPY", "1,000 JPY"), ("1000.00", "JPY", "1,000 JPY"), ("250", "USD", "250.00 USD"),
    ("1.25", "KWD", "1.250 KWD"), ("-30", "EUR", "-30.00 EUR"), ("0.015", "USD", "0.015 USD"),
    ("1234567.5", "CHF", "1,234,567.50 CHF"), ("12", "ISK", "12 ISK"), ("5", "BHD", "5.000 BHD"),
    ("7", "XYZ", "7.00 XYZ"),  # not an ISO currency Babel knows: two decimals
])
def test_money_uses_each_currencys_minor_units(amount: str, currency: str, text: str) -> None:
    assert money(Decimal(amount), currency) == text


def test_signed_and_minor_units() -> None:
    assert money(Decimal("554.54"), "USD", signed=True) == "+554.54 USD"
    assert money(Decimal("500"), "JPY", signed=True) == "+500 JPY"
    assert [minor_units(c) for c in ("USD", "JPY", "KWD", "usd", "", "12$")] == [2, 0, 3, 2, 2, 2]


@pytest.mark.parametrize(("n", "noun", "text"), [
    (1, "invoice", "1 invoice"), (0, "invoice", "0 invoices"), (2, "overdue invoice", "2 overdue invoices"),
    (16037, "API Call", "16,037 API Calls"), (3, "entry", "3 entries"), (2, "batch", "2 batches"),
    (5, "GB", "5 GB"), (2, "Seats", "2 Seats"), (4, "day", "4 days"), (2, "person", "2 people"),
])
def test_counts_have_real_plurals(n: int, noun: str, text: str) -> None:
    assert count(n, noun) == text


def test_units_pluralise_the_unit_of_measure() -> None:
    assert units(Decimal("16037"), "API Call") == "16,037 API Calls"
    assert units(Decimal(1), "Seat") == "1 Seat" and units(Decimal("2.5"), "Hour") == "2.5 Hours"
    assert plural("Each") == "Each" and plural("class") == "classes"
