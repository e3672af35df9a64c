"""Approval cards, their modals and the App Home section (pure): a stored proposal in, Block Kit out.

The card says in one sentence what will happen in Zuora, then the account and invoice, amount,
balance before and after, reason and evidence, who asked, who may approve and why, and when it
expires. Pending cards carry Approve (with a confirm dialog), Reject (a modal asks why) and, for
amounts that may change, Edit amount (a modal). Every ending replaces the buttons with the outcome,
so no live button is left on a decided card. Customer PII stays off: the account's name and
number only, never contacts, emails or card digits. Every piece of data (Zuora fields, reasons and
notes people typed, outcome messages) goes through `mrkdwn.escape()`; only our own templates,
user-id mentions and date tokens are live mrkdwn.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.actions.store import Record
from bot.money import count, money
from bot.slack.mrkdwn import escape, mention

__all__ = ["APPROVE", "APPROVE_ALL", "EDIT", "EDIT_VIEW", "REJECT", "REJECT_VIEW", "REPROPOSE", "ROW", "approval_card",
           "card_value", "digest_card", "edit_modal", "home_section", "parse_value", "reject_modal", "who"]

APPROVE, REJECT, EDIT, REPROPOSE = "approval.approve", "approval.reject", "approval.edit", "approval.repropose"
ROW = "approval.row"
APPROVE_ALL = "approval.approve_all"
"""On a grouped card of customer notes: its value is the rows' `<id>:<version>` joined by spaces."""
"""The per-row menu of a digest card; its option values are `approve:<id>:<version>`, `reject:…`, `edit:…`."""
REJECT_VIEW, EDIT_VIEW = "approval.reject_view", "approval.edit_view"


def card_value(record: Record) -> str:
    """What a button carries: the proposal id and the version the card shows (`<id>:<version>`)."""
    return f"{record.id}:{record.version}"


def parse_value(value: str) -> tuple[str, int | None]:
    """The proposal id and version from a button value or modal metadata (version None: an old card)."""
    proposal_id, _, version = value.partition(":")
    return proposal_id, int(version) if version.isdigit() else None


def who(requester: str) -> str:
    """A Slack mention for a user id; proposals from Zuora callouts name their source instead."""
    return "Zuora (declined-payment callout)" if requester == "zuora" else mention(requester)


def _when(moment: datetime) -> str:
    """A Slack date token (shown in the reader's time zone) with a UTC fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _fit(text: str, limit: int) -> str:
    """`text` cut to `limit` characters ("…" at the end), never inside a `<…>` token or an `&…;` entity."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    for opening, closing in (("<", ">"), ("&", ";")):
        at = cut.rfind(opening)
        if at > cut.rfind(closing):
            cut = cut[:at]
    return cut.rstrip() + "…"


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{value}"[:2000]}


def _status_line(record: Record, now: datetime) -> str | None:
    o = record.outcome or {}
    by = o.get("by") or (record.approvals[-1] if record.approvals else None)
    who = f" by {mention(str(by))}" if by else ""
    at = f" {_when(datetime.fromisoformat(o['at']))}" if o.get("at") else ""
    message = escape(o.get("message", ""), 1000)
    lines = {
        "executing": f":hourglass_flowing_sand: Approved{who}; running in Zuora…",
        "succeeded": f":white_check_mark: Approved{who}{at}. {message}",
        "failed": f":x: Approved{who}{at}, but it did not happen: {message}",
        "unknown": f":grey_question: Approved{who}{at}; Zuora did not confirm it yet. {message}",
        "rejected": f":no_entry_sign: Rejected{who}: {message}",
        "expired": f":alarm_clock: {message or 'Expired without a decision; nothing was done.'}",
        "stale": f":warning: {message or 'Not executed: the object changed since the card was made.'}",
    }
    if record.status == "pending" and record.approvals:
        return (f":ballot_box_with_check: Approved by {mention(record.approvals[0])} (1 of 2); waiting for a "
                f"second approver.")
    return lines.get(record.status)


DEMO_MARK = "Demo data: the fictional demo tenant (ZUORA_BASE_URL=demo); approving changes no real Zuora."


def approval_card(record: Record, *, who_may_approve: str, now: datetime, read_only: bool = False,
                  demo: bool = False) -> dict[str, Any]:
    """The `chat.postMessage` / `chat.update` arguments for a proposal's card, in its current state
    (`demo`: the card says it comes from the demo tenant)."""
    p = record.proposal
    title = p.title
    state = {"pending": "Approval needed", "executing": "Running", "succeeded": "Done", "failed": "Failed",
             "unknown": "Waiting for Zuora", "rejected": "Rejected", "expired": "Expired", "stale": "Not executed"}
    header = f"{state[record.status]}: {title} for {p.account_name}"[:150]
    after = p.balance_after()
    balance = money(p.snapshot.balance, p.currency) + (f" → {money(after, p.currency)}" if after is not None else "")
    fields = [_field("Account", escape(f"{p.account_name} ({p.account_number})", 400)),
              _field("Invoice", escape(p.invoice_number or "—", 200)),
              _field("Amount", money(p.amount, p.currency)),
              _field("Open balance" if p.snapshot.object_kind == "invoice" else "Account balance", balance),
              _field("Requested by", who(record.requester)),
              _field("Who may approve", who_may_approve),
              _field("Reason", escape(p.reason, 1000)),
              _field("Expires", _when(record.expires_at))]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(p.sentence(), 1000)}*"}},
        {"type": "section", "fields": fields},
    ]
    for title, text in p.card_sections():
        # A section may start with Slack's quote mark, which is ours; everything after it is data.
        quote = ">" if text.startswith(">") else ""
        body = quote + escape(text[len(quote):], 1500)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(title)}*\n{body}"}})
    if p.evidence:
        evidence = escape("\n".join(f"• {e}" for e in p.evidence), 2000)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Evidence:\n{evidence}"}]})
    status = _status_line(record, now)
    if status:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": status[:3000]}})
    if record.status == "pending":
        if read_only:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
                "Read-only mode (READ_ONLY=true): approving will not run anything in Zuora.")}]})
        blocks.append({"type": "actions", "block_id": f"approval:{record.id}", "elements": _buttons(record)})
    elif record.status in ("stale", "expired"):
        blocks.append({"type": "actions", "block_id": f"approval:{record.id}", "elements": [
            _button("Propose again", REPROPOSE, record.id)]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        f"Proposal `{record.id}` version {record.version} · nothing changes in Zuora until an authorized approver "
        f"approves")}]})
    if demo:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": DEMO_MARK}]})
    text = f"{escape(header)}: {escape(p.sentence(), 1000)}" + (f" {status}" if status else "")
    return {"text": text[:3900], "blocks": blocks}


def _button(text: str, action_id: str, value: str, style: str | None = None,
            confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "value": value,
                              "text": {"type": "plain_text", "text": text}}
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _buttons(record: Record) -> list[dict[str, Any]]:
    p = record.proposal
    confirm = {"title": {"type": "plain_text", "text": "Run this in Zuora?"},
               "text": {"type": "mrkdwn", "text": escape(p.sentence(), 300)},
               "confirm": {"type": "plain_text", "text": "Approve"}, "deny": {"type": "plain_text", "text": "Cancel"}}
    value = card_value(record)
    buttons = [_button("Approve", APPROVE, value, "primary", confirm),
               _button("Reject", REJECT, value, "danger")]
    if p.editable:
        buttons.append(_button("Edit amount", EDIT, value))
    elif p.text_editable and len(p.editable_text()) <= _MAX_TEXT_INPUT:
        buttons.append(_button("Edit text", EDIT, value))
    return buttons


def reject_modal(value: str) -> dict[str, Any]:
    """The reject modal; `value` (`<id>:<version>`) comes back as its private metadata."""
    return {"type": "modal", "callback_id": REJECT_VIEW, "private_metadata": value,
            "title": {"type": "plain_text", "text": "Reject proposal"},
            "submit": {"type": "plain_text", "text": "Reject"}, "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [{"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Why?"},
                        "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True,
                                    "max_length": 500}}]}


_MAX_TEXT_INPUT = 3000
"""Slack's limit for a plain-text input."""


def edit_modal(record: Record) -> dict[str, Any]:
    p = record.proposal
    if p.text_editable and not p.editable:
        return {"type": "modal", "callback_id": EDIT_VIEW, "private_metadata": card_value(record),
                "title": {"type": "plain_text", "text": "Edit text"},
                "submit": {"type": "plain_text", "text": "Save"}, "close": {"type": "plain_text", "text": "Cancel"},
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": escape(p.sentence(), 3000)}},
                    {"type": "input", "block_id": "text", "label": {"type": "plain_text", "text": "Text"},
                     "hint": {"type": "plain_text", "text": "The edited proposal needs approval again."},
                     "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                                 "max_length": _MAX_TEXT_INPUT,
                                 "initial_value": p.editable_text()[:_MAX_TEXT_INPUT]}}]}
    return {"type": "modal", "callback_id": EDIT_VIEW, "private_metadata": card_value(record),
            "title": {"type": "plain_text", "text": "Edit amount"},
            "submit": {"type": "plain_text", "text": "Save"}, "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": escape(p.sentence(), 3000)}},
                {"type": "input", "block_id": "amount",
                 "label": {"type": "plain_text", "text": f"Amount ({p.currency})"},
                 "hint": {"type": "plain_text", "text": f"At most {money(p.limit, p.currency)}. The edited proposal "
                                                        f"needs approval again."},
                 "element": {"type": "plain_text_input", "action_id": "amount", "initial_value": str(p.amount)}}]}


def home_section(waiting: list[Record], mine: list[Record], recent: list[Record]) -> list[dict[str, Any]]:
    """Pending approvals for the user (as approver and as requester) and recent decisions."""
    def line(r: Record) -> str:
        p = r.proposal
        return (f"• {p.title} {money(p.amount, p.currency)} on {escape(p.target, 100)} "
                f"({escape(p.account_name, 100)}), asked by {who(r.requester)} · `{r.id[:8]}`")

    def ended(r: Record) -> str:
        p = r.proposal
        by = (r.outcome or {}).get("by")
        return f"• {r.status}: {p.title} {money(p.amount, p.currency)} on {escape(p.target, 100)}" + \
            (f" by {mention(str(by))}" if by else "")

    parts = [("*Waiting for your approval*", [line(r) for r in waiting[:15]]),
             ("*Your requests*", [line(r) for r in mine[:10]]),
             ("*Recent decisions*", [ended(r) for r in recent[:10]])]
    blocks = []
    for title, lines in parts:
        body = "\n".join(lines) if lines else "_none_"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"{title}\n{body}"[:3000]}})
    return blocks


MAX_DIGEST_ROWS = 45
"""Rows per digest message: one section each, within Slack's 50 blocks."""


def digest_card(records: list[Record], *, now: datetime) -> dict[str, Any]:
    """Many proposals in one message (a bill-run day of declines): one row each, with a menu to decide."""
    pending = sum(r.status == "pending" for r in records)
    what = f"{count(len(records), 'customer note')} ready" if all(r.kind == "invoice_note" for r in records) \
        else count(len(records), "declined payment")
    header = f"{what}: {count(pending, 'proposal')} waiting for a decision"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": header[:150]}}]
    shown = records[:MAX_DIGEST_ROWS]
    room = 11_000 // max(len(shown), 1)  # Slack refuses a message over ~12k characters of blocks
    for r in shown:
        p = r.proposal
        why = getattr(p, "short", None) or next(  # a note's row shows the note itself, short
            (e.removeprefix("Dunning rule: ") for e in p.evidence if e.startswith("Dunning rule: ")), p.reason)
        status = _status_line(r, now) if r.status != "pending" else None
        text = (f"*{p.title}* · {escape(p.account_name, 100)} ({escape(p.account_number, 40)}) · "
                f"{escape(p.sentence(), 400)}\n_{escape(why, 300)}_")
        if status:
            text += f"\n{status}"
        row: dict[str, Any] = {"type": "section", "block_id": f"approval:{r.id}",
                               "text": {"type": "mrkdwn", "text": _fit(text, min(room, 3000))}}
        if r.status == "pending":
            options = [("Approve", "approve"), ("Reject", "reject")] + \
                ([("Edit amount", "edit")] if p.editable else
                 [("Edit text", "edit")] if p.text_editable and len(p.editable_text()) <= _MAX_TEXT_INPUT else [])
            row["accessory"] = {"type": "overflow", "action_id": ROW, "options": [
                {"text": {"type": "plain_text", "text": label}, "value": f"{verb}:{card_value(r)}"}
                for label, verb in options]}
        blocks.append(row)
    waiting = [r for r in shown if r.status == "pending"]
    if len(waiting) > 1 and all(r.kind == "invoice_note" for r in records):
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "action_id": APPROVE_ALL, "style": "primary",
            "text": {"type": "plain_text", "text": f"Approve all {len(waiting)}"},
            "value": " ".join(card_value(r) for r in waiting)[:2000]}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        "Each row is a separate proposal; nothing changes in Zuora until an authorized approver approves it. "
        "Approving from the menu runs it at once.")}]})
    return {"text": header, "blocks": blocks}
