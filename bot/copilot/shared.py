"""The channel version of an answer (pure): no contact names, emails, phones or addresses.

An answer shown only to the person who asked (ephemeral, or a DM) may keep the bill-to contact; the
copy posted where others read it (a channel thread, "Post to channel") must not. `for_channel()`
removes the contact line of the templates, every value of a contact object in the facts (also
where it appears in the text, e.g. in an LLM's sentence), and anything shaped like an email, phone
number or street address.
"""

from __future__ import annotations

import re
from typing import Any

from bot.copilot.answers import Answer
from bot.copilot.redact import _ADDRESS, _EMAIL, _PHONE

__all__ = ["CONTACT_LINE", "OMITTED", "for_channel"]

CONTACT_LINE = "Bill-to: "
"""How the templates start the line that names the account's contact (only in the requester's copy)."""
OMITTED = "[contact omitted]"
_AMOUNT = re.compile(r"[+-]?[\d,]*\.\d+")
"""A signed amount (`+554.54`) that the phone shape would also match: never a phone number."""
_CONTACT_OBJECTS = {"bill_to", "sold_to", "bill_to_contact", "sold_to_contact", "contact", "contacts"}
_CONTACT_FIELDS = {"email", "work_email", "personal_email", "email_addresses", "phone", "work_phone", "mobile_phone",
                   "home_phone", "address", "address1", "address2", "first_name", "last_name", "contact_name"}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if len(value.strip()) >= 3 else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _scrub(value: Any, found: list[str]) -> Any:
    """`value` without contact objects and fields; their strings are added to `found`."""
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key in _CONTACT_OBJECTS or key in _CONTACT_FIELDS:
                found += _strings(inner)
                continue
            out[key] = _scrub(inner, found)
        return out
    if isinstance(value, list):
        return [_scrub(v, found) for v in value]
    return value


def for_channel(answer: Answer) -> Answer:
    """`answer` as it may be posted where others read it: contact details left out, with a note saying so."""
    found: list[str] = []
    facts = _scrub(answer.facts, found)
    lines = [line for line in answer.text.split("\n") if not line.startswith(CONTACT_LINE)]
    text = "\n".join(lines)
    for value in sorted(set(found), key=len, reverse=True):  # longest first: a full name before its parts
        text = text.replace(value, OMITTED)
    text = _ADDRESS.sub(OMITTED, _EMAIL.sub(OMITTED, text))
    text = _PHONE.sub(lambda m: m.group(0) if _AMOUNT.fullmatch(m.group(0).strip()) else OMITTED, text)
    if text == answer.text and facts == answer.facts:
        return answer
    notes = [*answer.notes, "Contact details are left out of the channel version; the person who asked saw them."]
    return answer.model_copy(update={"text": text, "facts": facts, "notes": notes})
