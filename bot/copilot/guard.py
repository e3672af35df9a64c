"""Guardrails around the LLM (pure): PII redaction with placeholders, and numeric grounding.

`Redactor` swaps customer names, emails, phone numbers, addresses and card numbers for
placeholders such as `[NAME_1]` before anything reaches the model, remembers the mapping for one
question, and restores the originals in the model's text and in the tool arguments it sends back.

`ungrounded` lists the numbers (amounts, percentages, counts), dates and unknown identifiers in a
text that none of the sources (the tool results and the question) backs. Both sides are normalised
first, so disguises do not help: `88888USD`, `USD88888`, `$88,888`, `1 000 000`, `1'000'000`,
no-break and thin spaces, `eighty-eight thousand`, `88k`, `12 percent`. An explicit sign must match
the source's (a flipped sign is invented); an identifier's digits are skipped only when the
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

__all__ = ["FENCE_CLOSE", "FENCE_OPEN", "Redactor", "fence", "grounding", "numbers", "unfence", "ungrounded"]

_PII_KEYS = {"name": "NAME", "account_name": "NAME", "email": "EMAIL", "phone": "PHONE", "address": "ADDRESS",
             "first_name": "NAME", "last_name": "NAME", "work_email": "EMAIL", "personal_email": "EMAIL",
             "work_phone": "PHONE", "card_number": "CARD", "email_addresses": "EMAIL", "contact_name": "NAME"}
_NOT_PII_PARENTS = {"charges", "lines"}
"""Lists whose `name` is a charge name, not a person's or a company's."""
_PERSON_PARENTS = {"bill_to", "sold_to", "contact"}
"""Objects whose `name` is a person's: each part of it ("Ana", "Ito") is redacted on its own too."""
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w.])"
                    r"|(?<![\w.+])\+\d{1,3}(?:[\s.-]?\(?\d{1,5}\)?){2,5}(?![\w.])")
_CARD = re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")
_ADDRESS = re.compile(
    r"\b\d{1,6}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){0,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|"
    r"Drive|Dr|Way|Court|Ct|Place|Pl|Square|Sq|Terrace|Parkway|Pkwy|Highway|Hwy|Strasse|Straße|Rue|Via|Calle|Close|"
    r"Crescent|Row|Walk|Alley)\b\.?(?:,?\s+(?:Suite|Ste|Apt|Unit|Floor|Fl|#)\.?\s*[\w-]+)?")
_PLACEHOLDER = re.compile(r"\[(?:NAME|EMAIL|PHONE|ADDRESS|CARD)_\d+\]")
_CAP_WORD = r"(?:[A-Z][a-z]+(?:[-'][A-Za-z][a-z]+)*|[A-Z]\.|Mc[A-Z][a-z]+|O'[A-Z][a-z]+)"
_PROPER = re.compile(rf"(?<![\w\[]){_CAP_WORD}(?:(?:\s+|\s*&\s*|\s+(?:and|of|de|del|da|van|von|der|la|le)\s+)"
                     rf"{_CAP_WORD})*(?![\w\]])")
_VOCABULARY = frozenset(re.findall(r"[a-z]+", """
a about add added after again all also am amex an and any api apr april are as at aug august automatic b back bank
basic be been before bill billed billing business but by calls can cancel canceled cancelled card cash charge
charged charges check collections copilot correcting could credit credits customer customers data dec december
decline declined decrease did discount discover do does done draft dunning due e each electronic email enterprise
error escalate escalation euro euros express extra failed fee fees feb february flat for free fri friday from funds
general give goodwill got growth had has have hello help hi honor hours how i if in included increase insufficient
invalid invoice invoices is it jan january jul july jun june just last license licenses list look lost mar march
mastercard may me memo messages minutes mon monday month monthly more my new no not note nov november now number
oct october of off on one onboarding or our outage overage overdue owe owes paid past pay payment payments per
pending plan plans please plus posted premium price pro processed professional proration quarterly reason
recurring refund remind reminder retry sat saturday seat seats send sep sept september service services setup
should show standard starter stolen storage subscription sun sunday support tax taxes team tell thanks thank that
the their them then they this thu thursday tier tiered time to transaction transfer tue tuesday unit units up
usage usd user users visa was we wed wednesday were what when where which who why will wire with write yearly yes
you your zuora
"""))
"""Words that are not names even when capitalised (sentence starts, billing words, products, months)."""


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

    def text(self, text: str, *, single_names: bool = False) -> str:
        """`text` with known PII values, anything shaped like an email, phone, card number or street address,
        and capitalised name-like runs ("Zelda Quibble", "Acme & Sons") replaced; with `single_names` (for
        what a person typed) a single unknown capitalised word ("Globex") counts as a name too."""
        text = _EMAIL.sub(lambda m: self.token("EMAIL", m.group(0)), text)  # shapes first: an email holds names
        text = _CARD.sub(lambda m: self._card(m.group(0)), text)
        text = _PHONE.sub(lambda m: self.token("PHONE", m.group(0)), text)
        text = _ADDRESS.sub(lambda m: self.token("ADDRESS", m.group(0)), text)
        text = _PROPER.sub(lambda m: self._name(m.group(0), single_names), text)  # whole names before their parts
        for value in sorted(self._token_of, key=len, reverse=True):
            if len(value) >= 3 and not _PLACEHOLDER.fullmatch(value):
                text = re.sub(rf"(?<![\w\[]){re.escape(value)}(?![\w\]])", self._token_of[value], text,
                              flags=re.IGNORECASE)
        return text

    def _name(self, run: str, single: bool) -> str:
        """A capitalised run as a placeholder, common words at either end kept as they are."""
        words = run.split(" ")
        while words and words[0].strip("&").casefold() in _VOCABULARY | {""}:
            words.pop(0)
        while words and words[-1].strip("&").casefold() in _VOCABULARY | {""}:
            words.pop()
        name = " ".join(words)
        if not name or (" " not in name and not single) or all(w.casefold() in _VOCABULARY for w in words):
            return run
        start = run.index(name)
        return run[:start] + self.token("NAME", name) + run[start + len(name):]

    def _card(self, number: str) -> str:
        digits = re.sub(r"\D", "", number)
        return f"card ending {digits[-4:]}" if 13 <= len(digits) <= 19 else number

    def payload(self, value: Any) -> Any:
        """A JSON-like tool result with PII fields and PII-shaped strings replaced. Every PII field is
        learnt first, so a name is replaced wherever it appears (a proposal's sentence, an error message)."""
        self._learn(value)
        return self._replace(value)

    def _learn(self, value: Any, key: str | None = None, parent: str | None = None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self._learn(v, k, key if key is not None else parent)
        elif isinstance(value, list):
            for v in value:
                self._learn(v, key if isinstance(v, str) else None, key)
        elif isinstance(value, str) and value.strip() and not (key or "").endswith("_id"):
            kind = _PII_KEYS.get(key or "")
            if kind and not (key == "name" and parent in _NOT_PII_PARENTS):
                token = self.token(kind, value)
                if kind == "NAME" and parent in _PERSON_PARENTS:
                    for part in value.split():
                        if len(part) >= 3 and part.casefold() not in _VOCABULARY:
                            self._token_of.setdefault(part, token)

    def _replace(self, value: Any, key: str | None = None, parent: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self._replace(v, k, key if key is not None else parent) for k, v in value.items()}
        if isinstance(value, list):
            return [self._replace(v, key if isinstance(v, str) else None, key) for v in value]
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
    checked = _check_dates(_prepare(_PLACEHOLDER.sub(" ", text)), grounds, invented)

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
    checked = _ISO_DATE.sub(" ", _ID.sub(" ", _prepare(_PLACEHOLDER.sub(" ", text))))
    return {v for m in _NUMBER.finditer(_LIST_MARKER.sub(" ", checked)) for reading in _read(m) for v in reading}
