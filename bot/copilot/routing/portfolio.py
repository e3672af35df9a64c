"""Questions about the whole book (aging, late payers, failed payments, top customers, bill-run trend) and one
account's invoice history, read from free text into one tool call (pure)."""

from __future__ import annotations

import re
from typing import Any

from bot.analytics.periods import period_phrase
from bot.copilot.routing.decision import Route, clarify
from bot.copilot.routing.mentions import ACCOUNT, INVOICE, SUBSCRIPTION, account_name

__all__ = ["GROUPINGS_HELP", "PORTFOLIO_EXAMPLES", "portfolio_route"]

PORTFOLIO_EXAMPLES = (
    "aging",
    "who pays late",
    "failed payments last quarter by country",
    "top 10 customers by revenue last 12 months",
)
_AGING = re.compile(r"\b(?:a/?r\s+aging|ag(?:e)?ing|aged\s+(?:receivables|debts?|balances?)|receivables|"
                    r"(?:overdue|owed|outstanding|unpaid)\s+(?:and\s+)?(?:for\s+)?how\s+long|how\s+long\s+"
                    r"(?:overdue|outstanding|unpaid))\b", re.IGNORECASE)
_LATE = re.compile(r"\b(?:pays?\s+late|paid\s+late|paying\s+late|late\s+payers?|late[- ]paying|slow\s+payers?|"
                   r"pays?\s+slow(?:ly)?|chronically\s+late)\b", re.IGNORECASE)
_LEAK = re.compile(r"\b(?:leakage|leak(?:ed|ing)?|failed\s+payments?|declines|declined\s+payments?|"
                   r"failed\s+charges?|payment\s+failures?)\b", re.IGNORECASE)
_TOP = re.compile(r"\b(?:top\s*(\d{1,6})?\s*(?:customers?|accounts?|clients?|payers?)|(?:biggest|largest|best|"
                  r"most\s+valuable)\s+(?:customers?|accounts?|clients?)|rank(?:ing)?\s+(?:of\s+)?"
                  r"(?:customers?|accounts?))\b", re.IGNORECASE)
_GROUP = re.compile(r"\b(?:by|per)\s+([a-z]+(?:\s+[a-z]+)?)", re.IGNORECASE)
_GROUPS = (("code", r"(?:decline\s+)?codes?|reasons?|declines?"), ("country", r"countr(?:y|ies)|regions?"),
           ("state", r"states?|provinces?"), ("quarter", r"quarters?|quarterly"), ("month", r"months?|monthly"))
_MONTHLY = re.compile(r"\b(monthly|quarterly)\b", re.IGNORECASE)
_INVOICED = re.compile(r"\b(?:invoiced|billed|billings?|invoice\s+amounts?)\b", re.IGNORECASE)
_MRR = re.compile(r"\b(?:mrr|arr|recurring\s+revenue)\b", re.IGNORECASE)
GROUPINGS_HELP = "month, quarter, country (region), state or decline code"


_TREND = re.compile(r"\bbill[- ]?runs?\s+(?:trend|history|totals?|over\s+time)\b|\btrend\b.*\bbill[- ]?runs?\b|"
                    r"\blast\s+(\d{1,3})\s+bill[- ]?runs?\b", re.IGNORECASE)
_HISTORY = re.compile(r"\binvoice\s+history\b|\bhistory\s+of\s+(?:the\s+)?invoices\b|\ball\s+invoices\s+(?:of|for)\b",
                      re.IGNORECASE)


def portfolio_route(cleaned: str) -> Route | None:
    """A question about the whole book (aging, late payers, failed payments, top customers, bill-run trend) or
    one account's invoice history, or None."""
    phrase = period_phrase(cleaned)
    args: dict[str, Any] = {"period": phrase} if phrase else {}
    if _HISTORY.search(cleaned) and not INVOICE.search(cleaned):
        number = ACCOUNT.search(cleaned)
        rest = _HISTORY.sub(" ", cleaned.replace(phrase, " ") if phrase else cleaned)
        account = number.group(1).upper() if number and len(number.group(1)) != 32 else number.group(1) if number \
            else account_name(rest)
        if not account:
            return clarify("Whose invoice history? Give the account number (like A00000007) or the customer's name.")
        return Route("tool", "invoice_history", {**args, "account": account})
    if any(p.search(cleaned) for p in (INVOICE, ACCOUNT, SUBSCRIPTION)):
        return None
    if trend := _TREND.search(cleaned):
        count = next((g for g in trend.groups() if g), None)
        if count and not 1 <= int(count) <= 24:
            return clarify("I can show the trend of 1 to 24 bill runs.")
        return Route("tool", "bill_run_trend", {"runs": int(count)} if count else {})
    rest = _GROUP.sub(" ", cleaned.replace(phrase, " ") if phrase else cleaned)
    if _TOP.search(cleaned):
        count = _TOP.search(cleaned).group(1)  # type: ignore[union-attr]
        if count and not 1 <= int(count) <= 50:
            return clarify(f"I can rank up to 50 customers; {count} is too many.")
        if _MRR.search(cleaned):
            return clarify("I rank customers by payments received (revenue) or by invoiced amount, not by MRR "
                           "yet. For example: `top 10 customers by revenue last 12 months`.")
        args.update(measure="invoiced" if _INVOICED.search(cleaned) else "payments", limit=int(count or 10))
        return Route("tool", "top_customers", args)
    if _LATE.search(cleaned) and account_name(rest) is None:
        return Route("tool", "late_payers", args)
    if _LEAK.search(cleaned) and account_name(rest) is None:
        group = _GROUP.search(cleaned)
        if group:
            words = group.group(1)
            found = next((name for name, pattern in _GROUPS if re.match(rf"(?:{pattern})\b", words, re.I)), None)
            if found is None:
                return clarify(f"I can group failed payments by {GROUPINGS_HELP}, not by {words!r}.")
            args["group_by"] = found
        elif monthly := _MONTHLY.search(cleaned):
            args["group_by"] = "month" if monthly.group(1).lower() == "monthly" else "quarter"
        return Route("tool", "failed_payments", args)
    if _AGING.search(cleaned):
        return Route("tool", "receivables_aging", {})
    return None
