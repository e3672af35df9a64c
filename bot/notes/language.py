"""Which language a customer's note is written in, and how a person names a language (pure).

Order of resolution (issue 17): the account custom field `CUSTOMER_LANGUAGE_FIELD` (a code such as
`de`, `de-CH`, `ja_JP`, or a name such as `German` / `Deutsch`), else the bill-to contact's country
(`Germany`, `DE`), else `DEFAULT_CUSTOMER_LANGUAGE`. A value the notes cannot write is skipped
with the reason kept, so the card can say why the note is not in that language.

    UnknownLanguage   a language a person asked for that the templates do not cover
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError

__all__ = ["LANGUAGES", "Choice", "UnknownLanguage", "language_named", "locale_for", "resolve"]

LANGUAGES = ("en", "de", "fr", "es", "it", "ja")
"""The languages the deterministic templates cover."""

_COUNTRY_LANGUAGE = {
    "DE": "de", "AT": "de", "CH": "de", "LI": "de",
    "FR": "fr", "BE": "fr", "LU": "fr", "MC": "fr",
    "ES": "es", "MX": "es", "AR": "es", "CO": "es", "CL": "es", "PE": "es", "UY": "es", "EC": "es", "VE": "es",
    "IT": "it", "SM": "it",
    "JP": "ja",
    "US": "en", "GB": "en", "IE": "en", "AU": "en", "NZ": "en", "CA": "en", "SG": "en", "IN": "en",
}


class UnknownLanguage(ValueError):
    """A language the note templates do not cover; the message lists those they do."""

    def __init__(self, asked: str) -> None:
        self.asked = asked
        names = ", ".join(Locale.parse(code).get_display_name("en") or code for code in LANGUAGES)
        super().__init__(f"I can't write notes in {asked[:40]!r}; I can write them in {names}.")


@dataclass(frozen=True)
class Choice:
    """The note's language, the Babel locale for its formats, and where the choice came from."""

    language: str
    locale: str
    source: str
    """`field Language__c`, `country Germany`, `default`, or `asked`."""
    skipped: tuple[str, ...] = ()
    """Values seen earlier in the order that could not be used, in words."""


@cache
def _names() -> dict[str, str]:
    out: dict[str, str] = {}
    for code in LANGUAGES:
        loc = Locale.parse(code)
        for name in (code, loc.get_display_name("en"), loc.get_display_name(code), loc.english_name):
            if name:
                out[name.casefold()] = code
    out.update({"japanese": "ja", "nihongo": "ja", "español": "es", "castellano": "es", "italiano": "it",
                "français": "fr", "francais": "fr", "deutsch": "de"})
    return out


@cache
def _countries() -> dict[str, str]:
    out: dict[str, str] = {}
    for code in LANGUAGES:
        for territory, name in Locale.parse(code).territories.items():
            if len(territory) == 2:
                out[name.casefold()] = territory
    out.update({"usa": "US", "u.s.": "US", "u.s.a.": "US", "uk": "GB", "england": "GB"})
    return out


def language_named(text: str) -> str:
    """The language code for a name or code a person typed (`German`, `Deutsch`, `de`, `de-CH`, `ja_JP`)."""
    cleaned = " ".join(str(text).split()).strip(" .!?").casefold()
    if cleaned in _names():
        return _names()[cleaned]
    base = re.split(r"[-_]", cleaned, maxsplit=1)[0]
    if base in LANGUAGES and re.fullmatch(r"[a-z]{2}(?:[-_][a-z]{2,4})?", cleaned):
        return base
    raise UnknownLanguage(text)


def country_code(country: str | None) -> str | None:
    """An ISO 3166 alpha-2 code for a contact's country (`Germany`, `DE`, `Deutschland`), if known."""
    if not country:
        return None
    cleaned = country.strip()
    if re.fullmatch(r"[A-Za-z]{2}", cleaned):
        return cleaned.upper()
    return _countries().get(cleaned.casefold())


def locale_for(language: str, country: str | None = None) -> str:
    """The Babel locale for a language, with the country's regional formats when Babel has them (`de_CH`)."""
    code = country_code(country)
    if code:
        try:
            return str(Locale.parse(f"{language}_{code}"))
        except (UnknownLocaleError, ValueError):
            pass
    return language


def resolve(custom_fields: Mapping[str, Any], country: str | None, *, field: str, default: str) -> Choice:
    """The customer's language: the account field, else the bill-to country, else `default`."""
    skipped: list[str] = []
    value = custom_fields.get(field)
    if value not in (None, ""):
        try:
            language = language_named(str(value))
            return Choice(language, locale_for(language, country), f"field {field}")
        except UnknownLanguage:
            skipped.append(f"{field} is {str(value)[:40]!r}, which the notes do not cover")
    code = country_code(country)
    if code and code in _COUNTRY_LANGUAGE:
        language = _COUNTRY_LANGUAGE[code]
        return Choice(language, locale_for(language, country), f"country {country}", tuple(skipped))
    if country:
        skipped.append(f"no note language for the country {country[:40]!r}")
    language = language_named(default)
    return Choice(language, locale_for(language, country), "default", tuple(skipped))
