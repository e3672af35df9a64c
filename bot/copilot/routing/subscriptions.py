"""Subscription changes, retention offers and churn-risk questions, read from free text into one tool call
(pure)."""

from __future__ import annotations

import re
from typing import Any

from bot.copilot.routing.decision import Route, clarify
from bot.copilot.routing.mentions import ACCOUNT, INVOICE, NEGATION, SUBSCRIPTION

__all__ = ["SUBSCRIPTION_EXAMPLES", "subscription_route"]

_CHANGE_PLAN = re.compile(r"\b(upgrade|downgrade|switch|move|change|migrate)\b", re.I)
_ADD = re.compile(r"\b(add)\b", re.I)
_REMOVE = re.compile(r"\b(remove|drop|take off|cut)\b", re.I)
_SET = re.compile(r"\b(set)\b", re.I)
_UNITS = re.compile(r"(?<![\w.,-])(-?\d{1,6}(?:\.\d+)?)\s+(seats?|users?|licen[cs]es?|units?)\b", re.I)
_WHEN = ((re.compile(r"\b(?:at|on|by)\s+(?:the\s+)?renewal\b", re.I), "renewal"),
         (re.compile(r"\b(?:next|following)\s+(?:billing\s+)?(?:period|month|cycle)\b|\bend of (?:the )?(?:billing )?"
                     r"(?:period|month|cycle)\b", re.I), "next_period"),
         (re.compile(r"\b(?:today|now|immediately|right away)\b", re.I), "today"))
_OFFER = re.compile(r"^\s*(?:propose\s+)?(?:a\s+)?(?:retention\s+)?(?:offer|discount)\b", re.I)
_PERCENT = re.compile(r"(?<![\w.])(-?\d{1,3}(?:\.\d{1,2})?)\s*(?:%|percent\b)", re.I)
_PERIODS = re.compile(r"\bfor\s+(\d{1,3})\s+(?:billing\s+)?(?:months?|periods?|invoices?)\b", re.I)
_QUESTION = re.compile(r"^\s*(?:why|what|when|how|who|which|did|does|do|is|was|has|have|can|could|should)\b", re.I)
_RISK = re.compile(r"^\s*(?:churn\s+)?risk\b|\bat[ -]risk\b|\bchurn\b", re.I)
SUBSCRIPTION_EXAMPLES = ("upgrade A-S00000002 to Business", "add 5 seats to A-S00000002",
                         "remove the SMS add-on from A-S00000017 at renewal", "offer A-S00000010 20% for 3 months",
                         "risk A00000010", "at risk")


def subscription_route(cleaned: str) -> Route | None:
    """A subscription change, retention offer or churn-risk question, or None when it is none of those."""
    if _RISK.search(cleaned) and not SUBSCRIPTION.search(cleaned):
        number = ACCOUNT.search(cleaned)
        if number:
            return Route("tool", "churn_risk", {"account": number.group(1).upper()})
        if re.search(r"\bat[ -]risk\b|\bchurn\b|^\s*risk\s*$", cleaned, re.I):
            return Route("tool", "accounts_at_risk", {})
        return None
    sub = SUBSCRIPTION.search(cleaned)
    if not sub or INVOICE.search(cleaned) or _QUESTION.match(cleaned):
        return None  # an invoice action that mentions a subscription, or a question about one
    number = sub.group(1).upper()
    if _OFFER.search(cleaned):
        percent = _PERCENT.search(cleaned)
        periods = _PERIODS.search(cleaned)
        if not percent:
            return clarify(f"How much of a discount? For example: `{SUBSCRIPTION_EXAMPLES[3]}`.")
        return Route("tool", "propose_retention_offer", {
            "subscription": number, "percent": percent.group(1), "periods": int(periods.group(1)) if periods else 3,
            "reason": "retention offer requested in Slack"})
    rest = SUBSCRIPTION.sub(" ", cleaned)
    when = next((value for pattern, value in _WHEN if pattern.search(rest)), "auto")
    for pattern, _ in _WHEN:
        rest = pattern.sub(" ", rest)
    verbs = [(m.start(), m.group(1).lower()) for p in (_CHANGE_PLAN, _ADD, _REMOVE, _SET) for m in [p.search(rest)]
             if m and not NEGATION.search(rest[:m.start()])]
    if not verbs:
        return None
    _, verb = min(verbs)
    args: dict[str, Any] = {"subscription": number, "when": when, "reason": "requested in Slack"}
    units = _UNITS.search(rest)
    if units and verb in ("add", "remove", "drop", "take off", "cut", "set", "change"):
        count = units.group(1)
        sign = "-" if verb in ("remove", "drop", "take off", "cut") else ""
        return Route("tool", "propose_subscription_change", {
            **args, "change": "update_quantity", "plan": units.group(2), "quantity": f"{sign}{count}",
            "delta": verb != "set" and verb != "change"})
    target = re.search(r"\b(?:to|onto|into)\s+(?:the\s+)?(.+?)\s*(?:plan)?\s*[.!?]*$", rest, re.I)
    if verb in ("upgrade", "downgrade", "switch", "move", "change", "migrate"):
        if (not target or not target.group(1).strip()) and verb not in ("upgrade", "downgrade"):
            return None  # "why did A-S00000002 change?": a question, not a change
        if not target or not target.group(1).strip():
            return clarify(f"To which plan? For example: `{SUBSCRIPTION_EXAMPLES[0]}`.")
        return Route("tool", "propose_subscription_change", {**args, "change": "change_plan",
                                                             "plan": target.group(1).strip(" '\"")})
    product = re.sub(r"^\s*(?:add|remove|drop|take off|cut|set)\s+(?:the\s+|an?\s+)?", "", rest, flags=re.I)
    product = re.split(r"\s+(?:to|from|on|off)\b", product, maxsplit=1, flags=re.I)[0].strip(" .!?'\"")
    if not product:
        return clarify("Which product? For example: `remove the SMS add-on from A-S00000017 at renewal`.")
    return Route("tool", "propose_subscription_change", {
        **args, "change": "add_product" if verb == "add" else "remove_product", "plan": product})
