"""PII redaction (pure): customer details become placeholders before anything reaches a model.

`Redactor` swaps customer names, emails, phone numbers, street addresses and card numbers for
placeholders such as `[NAME_1]`, remembers the mapping for one question, and restores the originals
in the model's text and in the tool arguments it sends back. In a tool result every PII field
(`name`, `account_name`, `email`, …) is learnt first, so the same value is also replaced wherever
else it appears (a proposal's sentence, an error message). In free text, shapes (emails, phones,
cards, addresses) and capitalised name-like runs ("Zelda Quibble", "Acme & Sons") are replaced; in
what a person typed, a single unknown capitalised word ("Globex") counts as a name too.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PLACEHOLDER", "Redactor"]

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
PLACEHOLDER = re.compile(r"\[(?:NAME|EMAIL|PHONE|ADDRESS|CARD)_\d+\]")
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
explain explains compare summarize summarise summary find get fetch see read okay ok sure great thx ty dear regards
best cheers fyi re fw fwd urgent asap issue problem question also actually so any every next previous first second
third recent latest total sum amount amounts balance balances late client clients hey morning afternoon evening
would might must need needs want wants let lets set create draft propose approve approved reject rejected undo remove
change changed update updated call ping ask asked asking maybe don didn doesn isn aren wasn won can't cannot im
we're you're they're it's its these those there here today yesterday tomorrow week weeks months year years quarter
quarters q1 q2 q3 q4 ytd mtd eod eom asap please kindly quick quickly again why's what's who's how's where's
hmm ah oh well right left open opened closed close higher lower more less went jump jumped spike spiked drop dropped
explain explained breakdown break down difference different differs why how much many
than as into onto over under between vs versus against since until during via above below because else only even
still very too out other another same such own both few most some none nothing something anything everything
one two three four five six seven eight nine ten who whom whose whatever whenever being having doing make made
take took go went come came look looked know knew think thought say said see saw use used try tried keep kept
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
            if len(value) >= 3 and not PLACEHOLDER.fullmatch(value):
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
            return PLACEHOLDER.sub(lambda m: self._value_of.get(m.group(0), m.group(0)), value)
        if isinstance(value, dict):
            return {k: self.restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.restore(v) for v in value]
        return value
