"""The one escape for Slack mrkdwn (pure): untrusted text shown as written, never as a mention or a link.

Slack's mrkdwn gives meaning to `<…>` (user and channel mentions, `<!channel>`, `<!here>`, links
with a label of their choice, dates) and decodes the three entities `&amp;`, `&lt;` and `&gt;`;
nothing else is decoded. So `escape()` replaces exactly `&`, `<` and `>` (Slack's rules for
"escaping text"): a Zuora account named `<!channel>` shows as `<!channel>` and pings nobody, and
`&lt;` in data shows as `&lt;`. Every Block Kit builder passes every piece of text that did not come
from our own templates through it (Zuora fields, what users typed, LLM output, modal input),
exactly once, at the moment the text is put into a block. `plain_text` fields are not parsed by
Slack and are not escaped. Bare `@channel` is only a mention when a message is posted with
`link_names`, which this app never sets.
"""

from __future__ import annotations

import re

__all__ = ["escape", "mention"]

_USER_ID = re.compile(r"[UW][A-Z0-9]{1,20}")


def escape(text: object, limit: int | None = None) -> str:
    """`text` for a mrkdwn field, shown literally: `&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;`.

    With `limit`, the escaped text is cut to at most that many characters (ending in "…", never
    inside an entity), so data of any length keeps a message within Slack's limits.
    """
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if limit is None or len(out) <= limit:
        return out
    cut = out[:max(limit - 1, 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + "…"


def mention(user_id: str) -> str:
    """`<@U…>` for a Slack user id; anything that is not one is shown escaped, never as a mention."""
    return f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else escape(user_id, 100)
