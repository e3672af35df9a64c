"""Portfolio answers in Slack: a compact fields section (the headline figures) and the full result as
files (CSV, and a PNG chart) uploaded in the answer's thread through Slack's external upload flow
(`files.getUploadURLExternal`, the upload, `files.completeUploadExternal`: `files_upload_v2`).

Field text is escaped here (Zuora text never becomes mrkdwn). An upload failure (a missing
`files:write` scope, Slack down) is logged and reported as a sentence; the answer itself stands.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.copilot.answers import Answer
from bot.copilot.portfolio import answer_chart, answer_csv, table_facts
from bot.money import money
from bot.slack.mrkdwn import escape

__all__ = ["has_files", "summary_fields", "upload_files"]

log = logging.getLogger(__name__)
_MAX_FIELDS = 10
_MAX_FIELD = 2000


def summary_fields(answer: Answer) -> dict[str, Any] | None:
    """A section of up to 10 label/value fields with the answer's period, totals and evidence size."""
    found = table_facts(answer.facts)
    if found is None:
        return None
    pairs: list[tuple[str, str]] = []
    if found.get("period_start"):
        pairs.append(("Period", str(found.get("sentence") or f"{found['period_start']} to {found.get('period_end')}")))
    pairs.append(("As of", str(found.get("as_of"))))
    for currency, total in sorted((found.get("totals") or {}).items()):
        try:
            pairs.append((f"Total {currency}", money(_decimal(total), str(currency))))
        except (ArithmeticError, ValueError):
            continue
    pairs.append(("Rows", f"{len(found['rows'])} (all in the CSV)"))
    pairs.append(("Records read", str(found.get("records_read"))))
    fields = [{"type": "mrkdwn", "text": f"*{escape(label, 200)}*\n{escape(value, _MAX_FIELD - 250)}"}
              for label, value in pairs[:_MAX_FIELDS]]
    return {"type": "section", "fields": fields}


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def has_files(answer: Answer) -> bool:
    """Whether the answer comes with a CSV (and maybe a chart)."""
    return table_facts(answer.facts) is not None


def upload_files(client: WebClient, answer: Answer, *, channel: str, thread_ts: str | None = None) -> str | None:
    """Upload the answer's CSV and chart to `channel` (in `thread_ts`); returns a problem sentence, or None."""
    table = answer_csv(answer.facts)
    if table is None:
        return None
    uploads: list[dict[str, Any]] = [{"filename": table[0], "content": table[1].encode(), "title": table[0]}]
    chart = answer_chart(answer.facts)
    if chart is not None:
        uploads.append({"filename": chart[0], "content": chart[1], "title": chart[0],
                        "alt_txt": str((table_facts(answer.facts) or {}).get("chart", {}).get("title", ""))[:1000]})
    try:
        client.files_upload_v2(file_uploads=uploads, channel=channel, thread_ts=thread_ts)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "unknown"
        log.warning("slack: could not upload the answer's files (%s)", error)
        return f"The CSV and chart could not be attached (Slack said {error})."
    except SlackRequestError as exc:
        log.warning("slack: could not upload the answer's files (%s)", type(exc).__name__)
        return "The CSV and chart could not be attached."
    return None
