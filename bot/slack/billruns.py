"""Bill-run summaries in Slack (pure builders): the DM, and the App Home section with its toggle.

Numbers, names and error texts come from Zuora: each goes through `mrkdwn.escape()`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.billruns.summary import BillRunSummary
from bot.money import count, money
from bot.slack.mrkdwn import escape

__all__ = ["EXPLAIN", "SUBSCRIBE", "UNSUBSCRIBE", "billrun_message", "subscription_section"]

EXPLAIN, SUBSCRIBE, UNSUBSCRIBE = "billrun.explain", "billrun.subscribe", "billrun.unsubscribe"


def _change(now: Decimal, before: Decimal | None, currency: str) -> str:
    if before is None:
        return "new this run"
    diff = now - before
    pct = f", {diff / before * 100:+.1f} %" if before else ""
    return f"{money(diff, currency, signed=True)}{pct}"


def billrun_message(s: BillRunSummary) -> dict[str, Any]:
    """The DM after a bill run: counts, totals by currency and the change, largest increases (Explain), anomalies."""
    title = f"Bill run {s.bill_run_number} completed" + (f" (target {s.target_date})" if s.target_date else "")
    e = escape
    counts = f"*{s.invoices}* invoices for *{s.accounts}* accounts, *{s.credit_memos}* credit memos"
    if s.previous_number and s.previous_invoices is not None:
        counts += f" · {s.invoices - s.previous_invoices:+d} invoices vs {e(s.previous_number)}"
    totals = "\n".join(f"• *{e(money(total, cur))}* ({e(_change(total, s.previous_totals.get(cur), cur))})"
                       for cur, total in sorted(s.totals.items()))
    lines = [counts, f"*Totals by currency* (vs {e(s.previous_number or 'no earlier run')}):\n{totals or '• none'}"]
    anomalies = []
    if s.zero_amount:
        anomalies.append(f"{count(s.zero_amount, 'zero-amount invoice')}: {e(', '.join(s.zero_examples))}")
    if s.first_invoices:
        anomalies.append(f"{count(s.first_invoices, 'first invoice')}: {e(', '.join(s.first_examples))}")
    for error in s.errors:
        anomalies.append(f":x: {e(error)}")
    if anomalies:
        lines.append("*Worth a look*\n" + "\n".join(f"• {a}" for a in anomalies))
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
                                    {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}}]
    if s.increases:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Largest increases* against each "
                                                                             "account's previous invoice"}})
        for inc in s.increases:
            factor = f" ({inc.amount / inc.previous:.1f}×)" if inc.previous > 0 else ""
            text = (f"*{e(inc.invoice_number)}* {e(inc.account_name)} ({e(inc.account_number)}): "
                    f"{e(money(inc.previous, inc.currency))} → {e(money(inc.amount, inc.currency))}, "
                    f"*{e(money(inc.increase, inc.currency, signed=True))}*{factor}")
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]},
                           "accessory": {"type": "button", "action_id": EXPLAIN, "value": inc.invoice_number[:2000],
                                         "text": {"type": "plain_text", "text": "Explain"}}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        "You get this because you subscribed: `/billing unsubscribe billruns` stops it.")}]})
    text = escape(f"{title}: {s.invoices} invoices, " + ", ".join(money(t, c) for c, t in sorted(s.totals.items())))
    return {"text": text[:3900], "blocks": blocks[:50]}


def subscription_section(subscribed: bool) -> list[dict[str, Any]]:
    """App Home: whether the user gets bill-run summaries, with a button to change it."""
    text = ("You get a DM after each completed bill run." if subscribed else
            "You do not get bill-run summaries. Subscribe to get a DM after each completed bill run.")
    button = {"type": "button", "action_id": UNSUBSCRIBE if subscribed else SUBSCRIBE, "value": "billruns",
              "text": {"type": "plain_text", "text": "Unsubscribe" if subscribed else "Subscribe"}}
    if not subscribed:
        button["style"] = "primary"
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}, "accessory": button}]
