"""The invoice explainer on hand-built invoice pairs, plus the sum-to-the-cent property."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.copilot.drivers import is_partial_period
from bot.copilot.explain import explain
from bot.copilot.explanation import Explanation
from bot.zuora import Invoice, InvoiceItem

D = Decimal
_ids = itertools.count(1)
FEB = (date(2026, 2, 1), date(2026, 2, 28))
JAN = (date(2026, 1, 1), date(2026, 1, 31))


def item(name: str, amount: str, *, qty: str | None = "1", price: str | None = None, tax: str = "0",
         period: tuple[date, date] = FEB, charge_type: str | None = "Recurring", discount: bool = False,
         sub: str = "A-S1", uom: str | None = None) -> InvoiceItem:
    return InvoiceItem(
        item_id=f"item-{next(_ids)}", charge_name=name, charge_amount=D(amount), tax_amount=D(tax),
        quantity=D(qty) if qty is not None else None, unit_price=D(price if price is not None else amount),
        service_start_date=period[0], service_end_date=period[1], charge_type=charge_type,
        processing_type="Discount" if discount else "Charge", subscription_number=sub, unit_of_measure=uom)


def invoice(number: str, items: list[InvoiceItem], *, when: date = date(2026, 2, 1), currency: str = "USD",
            extra: str = "0") -> Invoice:
    amount = sum((i.total for i in items), D(0)) + D(extra)
    return Invoice(invoice_id=f"id-{number}", invoice_number=number, account_id="acc-1", amount=amount,
                   tax_amount=sum((i.tax_amount for i in items), D(0)), currency=currency, invoice_date=when,
                   status="Posted")


def compare(previous: list[InvoiceItem], current: list[InvoiceItem], **kw: Any) -> Explanation:
    prev = invoice("INV00000001", previous, when=date(2026, 1, 1), extra=kw.pop("prev_extra", "0"))
    cur = invoice("INV00000002", current, **kw)
    result = explain(cur, current, prev, previous)
    assert sum(d.amount for d in result.drivers) == result.difference == cur.amount - prev.amount
    return result


def kinds(result: Explanation) -> dict[str, Decimal]:
    return {d.kind: d.amount for d in result.drivers}


def test_quantity_change_cites_both_lines() -> None:
    before = item("Seats", "300", qty="10", price="30", period=JAN)
    after = item("Seats", "450", qty="15", price="30")
    result = compare([before], [after])
    (driver,) = result.drivers
    assert (driver.kind, driver.amount, driver.currency) == ("quantity_change", D("150.00"), "USD")
    assert driver.previous_item_ids == (before.item_id,) and driver.current_item_ids == (after.item_id,)
    assert (driver.quantity_before, driver.quantity_after) == (D(10), D(15))
    assert "10 → 15" in driver.sentence and "+150.00 USD" in driver.sentence
    assert (driver.period_start, driver.period_end) == FEB
    assert result.direction == "higher" and "150.00 USD higher" in result.summary


def test_price_change() -> None:
    result = compare([item("Platform", "500")], [item("Platform", "550")])
    assert kinds(result) == {"price_change": D("50.00")}
    assert "500.00 → 550.00" in result.drivers[0].sentence


def test_quantity_and_price_change_split_exactly() -> None:
    result = compare([item("Seats", "300", qty="10", price="30")], [item("Seats", "385", qty="11", price="35")])
    assert kinds(result) == {"quantity_change": D("30.00"), "price_change": D("55.00")}


def test_new_and_removed_charges() -> None:
    result = compare([item("Support", "99")], [item("Analytics", "49", sub="A-S2")])
    assert kinds(result) == {"removed_charge": D("-99.00"), "new_charge": D("49.00")}
    new = next(d for d in result.drivers if d.kind == "new_charge")
    assert new.subscription_number == "A-S2" and new.previous_item_ids == ()


def test_proration_is_a_partial_service_period() -> None:
    partial = item("Seats", "82.26", qty="5", price="30", period=(date(2026, 1, 15), date(2026, 1, 31)))
    result = compare([item("Seats", "300", qty="10", price="30")],
                     [item("Seats", "300", qty="10", price="30"), partial])
    (driver,) = result.drivers
    assert (driver.kind, driver.amount) == ("proration", D("82.26"))
    assert (driver.period_start, driver.period_end) == (date(2026, 1, 15), date(2026, 1, 31))
    assert "17 of 31 days" in driver.sentence


def test_usage_change_uses_the_charge_type() -> None:
    result = compare([item("API calls", "20", qty="11000", price="0.02", charge_type="Usage", period=JAN,
                           uom="API Call")],
                     [item("API calls", "270", qty="23500", price="0.02", charge_type="Usage", period=JAN,
                           uom="API Call")])
    (driver,) = result.drivers
    assert (driver.kind, driver.amount) == ("usage_change", D("250.00"))
    assert "11,000 API Calls to 23,500 API Calls" in driver.sentence


def test_usage_type_known_from_one_side_applies_to_both() -> None:
    result = compare([item("API calls", "20", qty="1000", price="0.02", charge_type=None, period=JAN)],
                     [item("API calls", "40", qty="2000", price="0.02", charge_type="Usage", period=JAN)])
    assert kinds(result) == {"usage_change": D("20.00")}


@pytest.mark.parametrize(("previous", "current", "kind", "amount"), [
    ([], [item("Promo", "-30", discount=True)], "discount_started", "-30.00"),
    ([item("Promo", "-30", discount=True)], [], "discount_ended", "30.00"),
    ([item("Promo", "-30", discount=True)], [item("Promo", "-15", discount=True)], "discount_changed", "15.00"),
])
def test_discounts(previous: list[InvoiceItem], current: list[InvoiceItem], kind: str, amount: str) -> None:
    base = item("Seats", "300")
    result = compare([base, *previous], [item("Seats", "300"), *current])
    assert kinds(result) == {kind: D(amount)}


def test_one_time_charges_and_their_absence() -> None:
    fee = item("Setup fee", "250", charge_type="OneTime", period=(date(2026, 2, 3), date(2026, 2, 3)))
    result = compare([], [fee])
    assert kinds(result) == {"one_time_charge": D("250.00")}
    again = compare([item("Setup fee", "250", charge_type=None, period=(date(2026, 1, 3), date(2026, 1, 3)))], [])
    assert kinds(again) == {"one_time_charge": D("-250.00")}
    assert "does not recur" in again.drivers[0].sentence


def test_credit_lines() -> None:
    credit = item("Seats", "-45", qty="3", price="30", period=(date(2026, 2, 15), date(2026, 2, 28)))
    result = compare([item("Seats", "300")], [item("Seats", "300"), credit])
    assert kinds(result) == {"credit": D("-45.00")}


def test_tax_change_is_its_own_driver() -> None:
    result = compare([item("Seats", "300", tax="24.75")], [item("Seats", "300", tax="30.00")])
    assert kinds(result) == {"tax_change": D("5.25")}
    assert "tax 24.75 USD → 30.00 USD" in result.drivers[0].sentence  # the rate moved: 8.25 % → 10 %


def test_what_the_items_cannot_explain_is_unexplained() -> None:
    result = compare([item("Seats", "300")], [item("Seats", "300")], extra="12.34")
    assert kinds(result) == {"unexplained": D("12.34")}
    assert result.unexplained == D("12.34")
    assert "not explained" in result.summary


def test_lower_invoice_still_explained() -> None:
    result = compare([item("Seats", "450", qty="15", price="30")], [item("Seats", "300", qty="10", price="30")])
    assert result.direction == "lower" and result.difference == D("-150.00")
    assert "150.00 USD lower" in result.summary
    assert kinds(result) == {"quantity_change": D("-150.00")}


def test_equal_invoices_have_no_drivers() -> None:
    result = compare([item("Seats", "300", period=JAN)], [item("Seats", "300")])
    assert result.direction == "equal" and result.drivers == () and "the same amount" in result.summary


def test_first_invoice_is_explained_by_its_composition() -> None:
    lines = [item("Seats", "300", qty="10", price="30", tax="24.75"), item("Promo", "-30", discount=True),
             item("Setup fee", "250", charge_type="OneTime", period=(date(2026, 2, 1), date(2026, 2, 1)))]
    current = invoice("INV00000009", lines)
    result = explain(current, lines, None)
    assert result.mode == "first_invoice" and result.previous is None
    assert sum(d.amount for d in result.drivers) == current.amount == D("544.75")
    assert {d.kind for d in result.drivers} == {"new_charge", "discount_started", "one_time_charge", "tax_change"}
    assert "first invoice" in result.summary


def test_mixed_currencies_are_not_compared() -> None:
    previous = invoice("INV00000001", [item("Seats", "300")], currency="EUR", when=date(2026, 1, 1))
    current = invoice("INV00000002", [item("Seats", "300")])
    result = explain(current, [item("Seats", "300")], previous, [item("Seats", "300")])
    assert result.mode == "mixed_currency" and result.drivers == () and result.difference is None
    assert "EUR" in result.summary and "USD" in result.summary and "cannot be compared" in result.summary


@pytest.mark.parametrize(("start", "end", "partial"), [
    (date(2026, 2, 1), date(2026, 2, 28), False), (date(2026, 1, 15), date(2026, 2, 14), False),
    (date(2026, 1, 15), date(2026, 1, 31), True), (date(2026, 1, 1), date(2026, 12, 31), False),
    (date(2026, 1, 31), date(2026, 2, 27), False), (date(2026, 3, 3), date(2026, 3, 3), False),
    (date(2026, 1, 1), date(2026, 1, 20), True),
])
def test_partial_periods(start: date, end: date, partial: bool) -> None:
    assert is_partial_period(start, end) is partial


amounts = st.decimals(min_value=D("-500"), max_value=D("5000"), places=2, allow_nan=False, allow_infinity=False)
lines = st.builds(
    lambda name, amount, tax, qty, kind, sub, partial: item(
        name, str(amount), tax=str(tax), qty=str(qty), price=str(abs(amount) / qty if qty else 1),
        charge_type=None if kind == "Discount" else kind, discount=kind == "Discount", sub=sub,
        period=(date(2026, 2, 10), date(2026, 2, 28)) if partial else
        (date(2026, 2, 5), date(2026, 2, 5)) if kind == "OneTime" else FEB),
    st.sampled_from(["Seats", "API calls", "Platform", "Promo", "Setup"]), amounts,
    st.decimals(min_value=D("-50"), max_value=D("500"), places=2, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=200), st.sampled_from(["Recurring", "Usage", "OneTime", "Discount", None]),
    st.sampled_from(["A-S1", "A-S2"]), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(lines, max_size=8), st.lists(lines, max_size=8), amounts, st.booleans())
def test_drivers_always_sum_to_the_difference(previous: list[InvoiceItem], current: list[InvoiceItem],
                                              adjustment: Decimal, adjusted: bool) -> None:
    result = compare(previous, current, extra=str(adjustment) if adjusted else "0")
    if not adjusted or adjustment == 0:
        assert result.unexplained == 0
    assert all(d.currency == "USD" and d.sentence for d in result.drivers)
    # Only a line that appears (a free new charge, a zero fee) may be shown at 0.00.
    assert all(d.amount != 0 or d.kind in ("new_charge", "one_time_charge") for d in result.drivers)


# -- the mechanism, named: rates and the base they apply to ------------------------------------------------------


def test_a_tax_rate_change_is_said_as_a_rate_with_its_base() -> None:
    before = item("Seats", "300", qty="10", price="30", tax="24.75", period=JAN)  # 8.25 %
    after = item("Seats", "300", qty="10", price="30", tax="28.50")  # 9.5 %
    (tax,) = compare([before], [after]).drivers
    assert tax.kind == "tax_change" and tax.amount == D("3.75")
    assert tax.sentence == ("Tax rate went from 8.25 % to 9.5 % (taxable amount 300.00 USD → 300.00 USD): "
                            "tax 24.75 USD → 28.50 USD (+3.75 USD).")
    assert (tax.rate_before, tax.rate_after, tax.base_before, tax.base_after) == (D("8.25"), D("9.5"), D(300), D(300))
    assert str(compare([before], [item("Seats", "300", tax="30")]).drivers[0].rate_after) == "10"  # not 1E+1


def test_tax_at_the_same_rate_says_so_and_names_the_taxable_amounts() -> None:
    before = item("Seats", "290", qty="1", tax="23.92", period=JAN)
    after = item("Seats", "802.26", qty="1", tax="66.20")  # rounding per line: 8.2483 % vs 8.2517 %
    tax = next(d for d in compare([before], [after]).drivers if d.kind == "tax_change")
    assert "at the same 8.25 % rate, on a taxable amount of 290.00 USD → 802.26 USD" in tax.sentence


def test_a_discount_percentage_change_is_said_as_a_rate_with_its_base() -> None:
    seats0, seats1 = item("Seats", "300", qty="10", price="30", period=JAN), item("Seats", "300", qty="10", price="30")
    d0 = item("Launch discount", "-30", qty="0", price="0", discount=True, period=JAN)
    d1 = item("Launch discount", "-45", qty="0", price="0", discount=True)
    (driver,) = compare([seats0, d0], [seats1, d1]).drivers
    assert driver.kind == "discount_changed" and driver.amount == D("-15.00")
    assert driver.sentence == ("Launch discount: the discount rate went from 10 % to 15 % (of 300.00 USD → "
                               "300.00 USD of charges): -30.00 USD → -45.00 USD (-15.00 USD).")
    assert (driver.rate_before, driver.rate_after, driver.base_before, driver.base_after) == \
        (D(10), D(15), D(300), D(300))


def test_a_discount_that_is_no_clean_percentage_keeps_its_amounts() -> None:
    seats0, seats1 = item("Seats", "300", qty="10", price="30", period=JAN), item("Seats", "300", qty="10", price="30")
    d0 = item("Goodwill", "-30", qty="0", price="0", discount=True, period=JAN)
    d1 = item("Goodwill", "-33.33", qty="0", price="0", discount=True)
    (driver,) = compare([seats0, d0], [seats1, d1]).drivers
    assert driver.sentence == "Goodwill changed from -30.00 USD to -33.33 USD (-3.33 USD)."
    assert driver.rate_after is None


def test_a_volume_tier_re_prices_the_whole_quantity() -> None:
    before = item("Seats", "300", qty="10", price="30", period=JAN, uom="Seat")
    after = item("Seats", "375", qty="15", price="25", uom="Seat")  # 11+ seats: 25 each, for all 15
    quantity, tier = compare([before], [after]).drivers
    assert (quantity.kind, quantity.amount) == ("quantity_change", D("150.00"))
    assert (tier.kind, tier.amount) == ("price_change", D("-75.00"))
    assert tier.sentence == ("Seats: unit price 30.00 → 25.00 USD on all 15 Seats (the whole quantity re-priced: "
                             "a volume tier): -75.00 USD.")
    assert (tier.unit_price_before, tier.unit_price_after, tier.quantity_after) == (D(30), D(25), D(15))
