"""Zuora's previews of a subscription change: one `Option` per effective date, which date to recommend and
why, and a note when Zuora's proration differs from actual-days arithmetic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.actions.kinds.base import DraftContext
from bot.money import money
from bot.zuora import ZuoraClient
from bot.zuora.orders import Preview

__all__ = ["Option", "explainer_note", "next_amount", "preview_options", "recommend", "signed", "zuora_preview"]


class Option(BaseModel):
    """Zuora's preview of the change effective on one date."""

    model_config = ConfigDict(frozen=True)

    label: str
    effective: date
    due_now: Decimal
    due_pretax: Decimal = Decimal(0)
    due_lines: list[str]
    next_date: date
    next_invoice: Decimal
    mrr_delta: Decimal
    tcv_delta: Decimal | None = None
    """Zuora's change in the current term's contract value (None when Zuora sends no `tcv` metric)."""


def signed(amount: Decimal, currency: str) -> str:
    """`amount` as money with a `+` when it is positive."""
    return ("+" if amount > 0 else "") + money(amount, currency)


def zuora_preview(client: ZuoraClient, body: dict[str, Any], through: date) -> Preview:
    """Zuora's preview of the order `body` through `through` (billing documents and charge metrics)."""
    return client.orders.preview({**body, "previewOptions": {
        "previewThruType": "SpecificDate", "specificPreviewThruDate": through.isoformat(),
        "previewTypes": ["BillingDocs", "ChargeMetrics"]}})


def next_amount(preview: Preview, day: date) -> Decimal:
    """The amount of the previewed invoice on `day` (0 when there is none)."""
    invoice = preview.invoice_on(day)
    return invoice.amount if invoice else Decimal(0)

def preview_options(ctx: DraftContext, body_of: Any, *, today: date, later: date, later_label: str,
                    next_date: date) -> list[Option]:
    """Zuora's preview of the same change effective today and at `later`."""
    options = []
    for label, day in (("today", today), (later_label, later)):
        preview = zuora_preview(ctx.client, body_of(day), max(next_date, day))
        due_invoice = preview.invoice_on(today) if day == today else None
        lines = [f"{i.charge_description or i.charge_name} {i.service_start_date}–{i.service_end_date}: "
                 f"{i.amount_without_tax:+.2f} + tax {i.tax_amount:.2f}" for i in (due_invoice.items if due_invoice
                                                                                  else [])]
        options.append(Option(label=label, effective=day, due_now=preview.due_on(today) if day == today
                              else Decimal(0), due_lines=lines,
                              due_pretax=due_invoice.amount_without_tax if due_invoice else Decimal(0),
                              next_date=max(next_date, day),
                              next_invoice=next_amount(preview, max(next_date, day)), mrr_delta=preview.mrr_delta,
                              tcv_delta=preview.tcv_delta))
    return options


def recommend(options: list[Option], currency: str) -> tuple[str, str]:
    """(label, reason): more revenue sooner for an upgrade, no proration credit for a downgrade."""
    now, later = options
    if later.mrr_delta < 0 or now.due_now < 0:
        credit = f" (today would credit {money(-now.due_now, currency)} for the rest of the period)" \
            if now.due_now < 0 else ""
        return later.label, (f"{later.label.capitalize()} ({later.effective.isoformat()}): no proration credit"
                             f"{credit}; the lower MRR ({signed(later.mrr_delta, currency)}) starts "
                             f"{later.effective.isoformat()}, after the period already paid for.")
    return now.label, (f"Today: {money(now.due_now, currency)} is billed now for the rest of the period and the MRR "
                       f"change ({signed(now.mrr_delta, currency)}) starts at once instead of on "
                       f"{later.effective.isoformat()}.")


def explainer_note(option: Option, preview_pretax: Decimal | None, expected: Decimal | None,
                   currency: str) -> list[str]:
    """Say so when Zuora's proration differs from simple actual-days arithmetic."""
    if preview_pretax is None or expected is None or abs(preview_pretax - expected) <= Decimal("0.02"):
        return []
    return [f"Zuora prorates {money(preview_pretax, currency)} before tax where actual days would give "
            f"{money(expected, currency)}: the tenant's proration rules apply; the card shows Zuora's numbers."]
