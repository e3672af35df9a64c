"""Guardrails around the LLM (pure): PII redaction with placeholders, and numeric grounding.

`Redactor` swaps customer names, emails, phone numbers, addresses and card numbers for
placeholders such as `[NAME_1]` before anything reaches the model, remembers the mapping for one
question, and restores the originals in the model's text and in the tool arguments it sends back.

`ungrounded` lists the numbers (amounts, percentages, counts) in a text that appear in none of the
sources (the tool results and the question). Identifiers (`INV00000042`, `A-S00000002`), ISO
dates, placeholders and list markers are not numbers for this purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Redactor", "numbers", "ungrounded"]

_PII_KEYS = {"name": "NAME", "account_name": "NAME", "email": "EMAIL", "phone": "PHONE", "address": "ADDRESS",
             "first_name": "NAME", "last_name": "NAME", "work_email": "EMAIL", "personal_email": "EMAIL",
             "work_phone": "PHONE", "card_number": "CARD"}
_NOT_PII_PARENTS = {"charges", "lines"}
"""Lists whose `name` is a charge name, not a person's or a company's."""
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w.])")
_CARD = re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")
_PLACEHOLDER = re.compile(r"\[(?:NAME|EMAIL|PHONE|ADDRESS|CARD)_\d+\]")


class Redactor:
    """Replaces PII with stable placeholders for one conversation and puts it back afterwards."""

    def __init__(self) -> None:
        self._token_of: dict[str, str] = {}
        self._value_of: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def token(self, kind: str, value: str) -> str:
        """The placeholder for `value` (the same value always gets the same placeholder)."""
        if value in self._token_of:
            return self._token_of[value]
        self._counts[kind] = self._counts.get(kind, 0) + 1
        token = f"[{kind}_{self._counts[kind]}]"
        self._token_of[value], self._value_of[token] = token, value
        return token

    def text(self, text: str) -> str:
        """`text` with known PII values and anything shaped like an email, phone or card number replaced."""
        for value in sorted(self._token_of, key=len, reverse=True):
            if len(value) >= 3:
                text = re.sub(re.escape(value), self._token_of[value], text, flags=re.IGNORECASE)
        text = _EMAIL.sub(lambda m: self.token("EMAIL", m.group(0)), text)
        text = _CARD.sub(lambda m: self._card(m.group(0)), text)
        return _PHONE.sub(lambda m: self.token("PHONE", m.group(0)), text)

    def _card(self, number: str) -> str:
        digits = re.sub(r"\D", "", number)
        return f"card ending {digits[-4:]}" if 13 <= len(digits) <= 19 else number

    def payload(self, value: Any, *, key: str | None = None, parent: str | None = None) -> Any:
        """A JSON-like tool result with PII fields and PII-shaped strings replaced."""
        if isinstance(value, dict):
            return {k: self.payload(v, key=k, parent=key if key is not None else parent) for k, v in value.items()}
        if isinstance(value, list):
            return [self.payload(v, parent=key) for v in value]
        if isinstance(value, str) and value and not (key or "").endswith("_id"):
            kind = _PII_KEYS.get(key or "")
            if kind and not (key == "name" and parent in _NOT_PII_PARENTS):
                return self.token(kind, value)
            return self.text(value)
        return value

    def restore(self, value: Any) -> Any:
        """Placeholders in a text (or in the strings of a JSON-like value) replaced by the originals."""
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: self._value_of.get(m.group(0), m.group(0)), value)
        if isinstance(value, dict):
            return {k: self.restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.restore(v) for v in value]
        return value


_IDENTIFIER = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*\b")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_LIST_MARKER = re.compile(r"^\s*\d{1,2}[.)]\s", re.MULTILINE)
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


def _decimal(token: str) -> Decimal | None:
    try:
        return Decimal(token.replace(",", "")).normalize()
    except InvalidOperation:
        return None


def numbers(text: str, *, strict: bool = True) -> set[Decimal]:
    """The numbers in `text`. With `strict` (for the text being checked), identifiers, ISO dates,
    placeholders and list markers are skipped; without it (for sources), every digit run counts."""
    if strict:
        for pattern in (_PLACEHOLDER, _DATE, _IDENTIFIER, _LIST_MARKER):
            text = pattern.sub(" ", text)
    found = {_decimal(m.group(0)) for m in _NUMBER.finditer(text)}
    return {n for n in found if n is not None}


def ungrounded(text: str, sources: Iterable[str]) -> list[Decimal]:
    """The numbers in `text` that appear in none of `sources`, sorted."""
    allowed: set[Decimal] = set()
    for source in sources:
        allowed |= numbers(source, strict=False)
    return sorted(n for n in numbers(text) if n not in allowed)
