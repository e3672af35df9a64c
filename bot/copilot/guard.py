"""Guardrails around the LLM (pure): untrusted-text fences, and numeric grounding.
(PII redaction, the other guardrail, is `redact.Redactor`.)

`fence` wraps Zuora's free text in a tool result in `<untrusted>…</untrusted>` before the model
sees it; `grounding` is what a tool result lets numbers rest on (structured values and our own
sentences, without Zuora's free text).

`ungrounded` lists the numbers (amounts, percentages, counts), dates and unknown identifiers in a
text that none of the sources (the tool results and the question) backs. Both sides are normalised
first, so disguises do not help: `88888USD`, `USD88888`, `$88,888`, `1 000 000`, `1'000'000`,
no-break and thin spaces, `eighty-eight thousand`, `88k`, `12 percent`. An explicit sign must match
the source's (a flipped sign is invented; `(554.54)` is negative); an identifier's digits are skipped only when the
identifier is in a source; impossible dates (`2026-02-30`, `February 30`) never pass. A separator
that can be read two ways (`1.000`, `1,5`, `5 100`) must be grounded under every reading.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from bot.copilot.redact import PLACEHOLDER

__all__ = ["FENCE_CLOSE", "FENCE_OPEN", "fence", "grounding", "numbers", "unfence", "ungrounded"]

# -- untrusted text ----------------------------------------------------------------------------------------

FENCE_OPEN, FENCE_CLOSE = "<untrusted>", "</untrusted>"
_FENCE_MARK = re.compile(r"</?\s*untrusted\s*>", re.IGNORECASE)
_PLAIN = re.compile(r"^(?:[A-Za-z0-9_.:+/-]{0,64}|\[(?:NAME|EMAIL|PHONE|ADDRESS|CARD)_\d+\])$")
_OUR_KEYS = {"error", "error_kind", "kind"}
"""Our own words in a payload (tool errors say what the model typed, never Zuora's free text)."""


def fence(value: Any, *, key: str | None = None) -> Any:
    """A tool result with every free-text string (anything but a plain token: names, comments, charge
    names, gateway messages, contact fields) wrapped in `<untrusted>…</untrusted>`, so the model can
    tell data from instructions; markers inside the text are defused so it cannot close the fence."""
    if isinstance(value, dict):
        return {k: fence(v, key=k) for k, v in value.items()}
    if isinstance(value, list):
        return [fence(v, key=key) for v in value]
    if isinstance(value, str) and key not in _OUR_KEYS and not _PLAIN.match(value):
        return f"{FENCE_OPEN}{_FENCE_MARK.sub('(untrusted)', value)}{FENCE_CLOSE}"
    return value


_OUR_TEXT_KEYS = {"sentence", "error"}
"""Text we write from Zuora's numbers (an explainer driver, a proposal): it grounds numbers, once the
Zuora free text quoted in it is cut out."""


def grounding(payload: Any) -> str:
    """What a tool result lets the model's numbers rest on: its structured values and our own sentences,
    without Zuora's free text (a number planted in a comment or a charge name is no fact)."""
    quoted: set[str] = set()

    def strip(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: strip(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v, key) for v in value]
        if isinstance(value, str) and not _PLAIN.match(value) and key not in _OUR_TEXT_KEYS:
            quoted.add(value)
            return ""
        return value

    text = json.dumps(strip(payload), default=str)
    for value in sorted(quoted, key=len, reverse=True):
        text = text.replace(json.dumps(value)[1:-1], " ")
    return text


def unfence(value: Any) -> Any:
    """Fence markers removed (from the model's text, or the arguments it copies out of a result)."""
    if isinstance(value, str):
        return _FENCE_MARK.sub("", value)
    if isinstance(value, dict):
        return {k: unfence(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unfence(v) for v in value]
    return value


# -- numeric grounding -------------------------------------------------------------------------------------

_CURRENCIES = ("USD|EUR|GBP|JPY|CHF|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|RON|BGN|INR|CNY|RMB|HKD|SGD|KRW|TWD|"
               "BRL|MXN|ARS|CLP|COP|ZAR|AED|SAR|ILS|TRY|RUB|UAH|THB|MYR|IDR|PHP|VND|NGN|EGP|KES")
_GLUED_BEFORE = re.compile(rf"(?<![A-Za-z])({_CURRENCIES}|US\$|[A-Z]{{1,2}}\$)(?=[\d.,])", re.IGNORECASE)
_GLUED_AFTER = re.compile(rf"(?<=\d)({_CURRENCIES})(?![A-Za-z])", re.IGNORECASE)
_SCALED = re.compile(r"(?<![\w.,])(\d+(?:\.\d+)?)\s*(k|thousand|m|mn|million|bn|billion)\b", re.IGNORECASE)
_SCALE = {"k": 1000, "thousand": 1000, "m": 10**6, "mn": 10**6, "million": 10**6, "bn": 10**9, "billion": 10**9}
_ACCOUNTING = re.compile(rf"\(\s*([$€£¥₹]?)\s?(\d(?:[,.' ]?\d)*)\s*((?:{_CURRENCIES})?)\s*\)", re.IGNORECASE)
"""`(554.54)`, `($554.54)`, `(554.54 USD)`: accountants' negative numbers."""
_SIGN_WORDS = re.compile(r"\b(?:minus|negative)\s+(?=[$€£¥₹]?\d)", re.IGNORECASE)
_PERCENT_WORDS = re.compile(r"\s*\b(?:percent|per\s+cent|pct)\b", re.IGNORECASE)
_UNITS = {w: n for n, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"))}
_TENS = {w: 10 * (n + 2) for n, w in enumerate(
    ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"))}
_WORD = "|".join([*_UNITS, *_TENS, "hundred", "thousand", "million"])
_WORD_RUN = re.compile(rf"\b(?:a\s+(?=(?:hundred|thousand|million)\b))?(?:{_WORD})\b"
                       rf"(?:(?:\s+and\s+|[\s-]+)(?:{_WORD})\b)*", re.IGNORECASE)
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
         r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_ISO_DATE = re.compile(r"(?<![\w-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w-]|\.\d)")
_MONTH_DAY = re.compile(rf"\b{_MONTH}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b\.?(?:,?\s+(\d{{4}}))?",
                        re.IGNORECASE)
_SLASHED = re.compile(r"(?<![\w/])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\w/])")
_ID = re.compile(r"(?<![\w-])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*(?![\w-])")
_LIST_MARKER = re.compile(r"^\s*\d{1,2}[.)]\s", re.MULTILINE)
_NUMBER = re.compile(r"""
    (?P<sign>(?<![\w.,'])[-+])?
    (?P<num>
        \d{1,3}(?P<sep>[,'\ _])\d{3}(?:(?P=sep)\d{3})*(?:\.\d+)?(?![\d])   # 1,000,000.50  1 000 000  1'000'000
      | \d{1,3}(?:\.\d{3})+,\d+                                            # 1.000.000,50
      | \d{1,3}(?:\.\d{3}){2,}(?![\d.])                                    # 1.000.000
      | \d+(?:[.,]\d+)?                                                    # 1234.5  1234,5
    )
    (?P<pct>\s?%)?
""", re.VERBOSE)
_DIGITS = re.compile(r"\d+")


class _Grounds:
    """What the sources allow: signed values, identifiers and dates."""

    def __init__(self, sources: Iterable[str]) -> None:
        self.values: set[Decimal] = set()
        self.ids: set[str] = set()
        self.dates: set[date] = set()
        pieces: set[Decimal] = set()
        for source in sources:
            text = _prepare(source)
            self.ids |= {m.group(0).casefold() for m in _ID.finditer(text)}
            for m in _ISO_DATE.finditer(text):
                day = _date(m.group(1), m.group(2), m.group(3))
                if day:
                    self.dates.add(day)
                    pieces |= {Decimal(day.year), Decimal(day.month), Decimal(day.day)}  # "February 1, 2026"
            for m in _ID.finditer(text):
                pieces |= {Decimal(d) for d in _DIGITS.findall(m.group(0))}  # "#42" for INV00000042
            for reading in _readings(text):
                self.values |= {v for values in reading for v in values}
        self.magnitudes = {abs(v) for v in self.values} | pieces

    def allows(self, value: Decimal, signed: bool) -> bool:
        """An unsigned number may be any source number's magnitude; a signed one needs that very value."""
        return value in self.values if signed else abs(value) in self.magnitudes


def _prepare(text: str) -> str:
    """Unicode folded (NFKC: no-break and thin spaces, full-width digits), minus signs, words and glued
    currency codes turned into plain digits and spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2212", "-").replace("\u2019", "'").replace("\u02bc", "'")
    text = _PERCENT_WORDS.sub("%", text)
    text = _ACCOUNTING.sub(lambda m: f" {m.group(1)}-{m.group(2)} {m.group(3)} ", text)
    text = _SIGN_WORDS.sub("-", text)
    text = _WORD_RUN.sub(lambda m: _words(m.group(0)), text)
    text = _GLUED_BEFORE.sub(r"\1 ", text)
    text = _GLUED_AFTER.sub(r" \1", text)
    return _SCALED.sub(lambda m: str(Decimal(m.group(1)) * _SCALE[m.group(2).lower()]), text)


def _words(run: str) -> str:
    total, current = 0, 0
    for word in re.split(r"[\s-]+", run.lower()):
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in ("thousand", "million"):
            total += (current or 1) * (1000 if word == "thousand" else 10**6)
            current = 0
    return str(total + current)


def _date(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _month_day_ok(month: str, day: str, year: str | None) -> bool:
    return _date(year or "2024", str(_MONTHS[month[:3].lower()]), day) is not None  # 2024: Feb 29 is possible


def _readings(text: str) -> list[list[set[Decimal]]]:
    """Per number in `text`: its possible readings (each a set of signed values); ambiguous separators
    ("1.000", "1,5", "5 100") give several readings, and every one of them must be grounded."""
    out: list[list[set[Decimal]]] = []
    for m in _NUMBER.finditer(text):
        out.append(_read(m))
    return out


def _read(m: re.Match[str]) -> list[set[Decimal]]:
    num, sign = m.group("num"), -1 if m.group("sign") == "-" else 1
    sep = m.group("sep")
    readings: list[list[Decimal]] = []
    if sep:  # grouped thousands; a single space group may also be two numbers
        readings.append([Decimal(num.replace(sep, ""))])
        if sep == " " and num.count(" ") == 1 and "." not in num:
            readings.append([Decimal(part) for part in num.split(" ")])
    elif "," in num and "." in num:  # 1.000.000,50
        readings.append([Decimal(num.replace(".", "").replace(",", "."))])
    elif num.count(".") >= 2:
        readings.append([Decimal(num.replace(".", ""))])
    elif "," in num:
        whole, frac = num.split(",")
        readings.append([Decimal(f"{whole}.{frac}")])
        readings.append([Decimal(whole), Decimal(frac)])
    elif "." in num and len(num.split(".")[1]) == 3 and num.split(".")[0] != "0":  # 1.000: 1 or 1000
        readings.append([Decimal(num)])
        readings.append([Decimal(num.replace(".", ""))])
    else:
        readings.append([Decimal(num)])
    return [{(sign * v).normalize() for v in reading} for reading in readings]


def _check_dates(text: str, grounds: _Grounds, invented: list[str]) -> str:
    """Impossible dates are invented; ISO dates must be in the sources. Returns `text` without ISO dates."""
    for pattern in (_MONTH_DAY, _DAY_MONTH):
        for m in pattern.finditer(text):
            month, day = (m.group(1), m.group(2)) if pattern is _MONTH_DAY else (m.group(2), m.group(1))
            if not _month_day_ok(month, day, m.group(3)):
                invented.append(m.group(0).strip())
    for m in _SLASHED.finditer(text):
        a, b, year = m.groups()
        year = year if len(year) == 4 else f"20{year}"
        if not (_date(year, a, b) or _date(year, b, a)):
            invented.append(m.group(0))

    def iso(m: re.Match[str]) -> str:
        day = _date(m.group(1), m.group(2), m.group(3))
        if day is None or day not in grounds.dates:
            invented.append(m.group(0))
        return " "

    return _ISO_DATE.sub(iso, text)


def ungrounded(text: str, sources: Iterable[str]) -> list[str]:
    """The numbers, dates and identifiers-with-digits in `text` that none of `sources` backs, as written.

    Numbers are compared after normalising (currency codes and symbols glued to digits, group separators
    of every kind, numbers in words, `k`/`million` scales, `percent` as `%`); an explicit
    sign must match the source's sign; an identifier's digits are ignored only when the identifier
    itself appears in a source; impossible dates never pass.
    """
    grounds = _Grounds(sources)
    invented: list[str] = []
    checked = _check_dates(_prepare(PLACEHOLDER.sub(" ", text)), grounds, invented)

    def ident(m: re.Match[str]) -> str:
        if m.group(0).casefold() in grounds.ids:
            return " "
        return " " + " ".join(_DIGITS.findall(m.group(0))) + " "  # an unknown id's digits are numbers

    checked = _LIST_MARKER.sub(" ", _ID.sub(ident, checked))
    for m in _NUMBER.finditer(checked):
        signed = m.group("sign") is not None
        if not all(grounds.allows(v, signed) for reading in _read(m) for v in reading):
            shown = m.group(0).strip()
            if shown not in invented:
                invented.append(shown)
    return invented


def numbers(text: str) -> set[Decimal]:
    """The (signed) numbers `ungrounded` checks in `text`, every reading of each; identifiers, dates,
    placeholders and list markers left out."""
    checked = _ISO_DATE.sub(" ", _ID.sub(" ", _prepare(PLACEHOLDER.sub(" ", text))))
    return {v for m in _NUMBER.finditer(_LIST_MARKER.sub(" ", checked)) for reading in _read(m) for v in reading}
