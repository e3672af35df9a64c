"""What a question mentions (pure): invoice, account and subscription numbers, customer names, amounts,
and the negations that take an action back."""

from __future__ import annotations

import re

__all__ = ["ACCOUNT", "BEFORE", "INVOICE", "NEGATION", "PAYMENTS", "SUBSCRIPTION", "account_name", "amounts"]

INVOICE = re.compile(r"(?<![\w-])(?:inv(?:oice)?[\s#:_-]*0*(\d{1,12})|#\s?(\d{1,12}))(?![\w-])", re.IGNORECASE)
SUBSCRIPTION = re.compile(r"(?<![\w-])(A-S\d{3,12})(?![\w-])", re.IGNORECASE)
ACCOUNT = re.compile(r"(?<![\w-])(A\d{3,12}|[0-9a-f]{32})(?![\w-])", re.IGNORECASE)
PAYMENTS = re.compile(r"\b(payments?|paid|pay|declin\w*|fail\w*|bounced?|charges? (?:failed|declined)|"
                      r"transactions?)\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(?:don'?t|do not|never|not|no|without|instead of|rather than|stop|cancel)\s+"
                      r"(?:\w+\s+){0,2}$", re.IGNORECASE)
"""Words just before an action that take it back ("don't write it off, just remind them")."""
_AMOUNT = re.compile(r"(?<![\w.#-])[$€£]?\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)(?![\w.,-]*\d)"
                     r"(?:\s?(?:usd|eur|gbp|dollars?|euros?))?", re.I)
BEFORE = re.compile(r"\b(?:(?:the\s+)?(?:one|invoice|bill)\s+before(?:\s+(?:it|that|this))?|before\s+that|"
                    r"previous(?:\s+(?:one|invoice|bill))?|prior\s+(?:one|invoice|bill)|earlier\s+(?:one|invoice)|"
                    r"last\s+month'?s?)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"(?:they|them|their|theirs|it|its|this one|that one|him|her|his)", re.IGNORECASE)
_NAME_PATTERNS = (
    re.compile(r"\bdoes\s+(?P<name>.+?)\s+(?:owe|have|pay|use)\b", re.IGNORECASE),
    re.compile(r"\b(?:has|did|have)\s+(?P<name>.+?)\s+(?:paid|pay|used|use)\b", re.IGNORECASE),
    re.compile(r"\b(?:for|of|from|by|about|on|customer|account)\s+(?P<name>[^?!.,;:]{2,80})", re.IGNORECASE),
)
_NOT_NAMES = {"me", "us", "you", "it", "this", "that", "them", "this month", "last month", "the month", "today",
              "all", "everyone", "everybody", "the account", "accounts", "customers", "this account",
              "my account", "the customer", "invoices", "payments", "usage", "the last month"}
_NAME_TAIL = re.compile(r"(?:'s)?(?:\s+(?:account|customer|please|pls|now|today|last month|this month|"
                        r"recently|lately|invoices?|payments?|balance|usage))*\s*$", re.IGNORECASE)
_SUMMARY_OF = re.compile(r"\b(?:account\s+)?(?:summary|snapshot|overview|status|details|info(?:rmation)?|balance)"
                         r"\s+(?:for|of|on|about)\s+", re.IGNORECASE)


def account_name(text: str) -> str | None:
    """The customer name a question mentions ("payments for Acme", "account summary for Acme" → "Acme"), if any."""
    text = _SUMMARY_OF.sub("for ", text)
    for pattern in _NAME_PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        name = _NAME_TAIL.sub("", match.group("name").strip()).strip(" '\"")
        name = re.sub(r"^(?:the|account|customer)\s+", "", name, flags=re.IGNORECASE).strip()
        numbered = any(p.search(name) for p in (ACCOUNT, INVOICE, SUBSCRIPTION))
        referring = BEFORE.search(name) or _PRONOUN.fullmatch(name)
        if len(name) >= 2 and name.casefold() not in _NOT_NAMES and not PAYMENTS.fullmatch(name) and not numbered \
                and not referring:
            return name
    return None


def amounts(text: str) -> list[str]:
    """The amounts a text mentions ("credit INV-42 $1,250.50" → ["1250.50"]), invoice numbers left out."""
    rest = INVOICE.sub(" ", SUBSCRIPTION.sub(" ", ACCOUNT.sub(" ", text)))
    return [m.group(1).replace(",", "") for m in _AMOUNT.finditer(rest)]
