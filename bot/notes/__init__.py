"""Customer-facing invoice notes: the language to write in, and the note itself from the explainer's drivers (pure).

`language` picks the customer's language (account field, bill-to country, default) and reads the
names people type ("in German"); `compose` writes the note from the templates in `templates`, with
dates, numbers and currency formatted for the locale by Babel. Nothing here does I/O.
"""

from bot.notes.compose import COMMENTS_LIMIT, FIELD_LIMIT, Note, NoteError, compose, format_amount, short_form
from bot.notes.language import LANGUAGES, Choice, UnknownLanguage, language_named, locale_for, resolve

__all__ = ["COMMENTS_LIMIT", "FIELD_LIMIT", "LANGUAGES", "Choice", "Note", "NoteError", "UnknownLanguage",
           "compose", "format_amount", "language_named", "locale_for", "resolve", "short_form"]
