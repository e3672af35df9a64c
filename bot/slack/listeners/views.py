"""Modal submissions: the reason for a rejection, and an edited amount (validated again; errors shown inline).

The check and the state change happen before the ack (its errors are the answer Slack shows in the
modal; they read only the database and the cached approver groups); updating the card and telling
the requester run on the quick pool after it.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.money import AmountError, parse_amount
from bot.slack.cards import EDIT_VIEW, REJECT_VIEW, parse_value
from bot.slack.conversation import SlackDeps
from bot.slack.workpool import Later

__all__ = ["register"]


def _value(view: dict[str, Any], block: str) -> str:
    return str(((view.get("state") or {}).get("values") or {}).get(block, {}).get(block, {}).get("value") or "")


def register(app: App, deps: SlackDeps, later: Later) -> None:
    desk = deps.desk
    if desk is None:
        return

    @app.view(REJECT_VIEW)
    def on_reject(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        reason = _value(view, "reason").strip()
        if not reason:
            ack(response_action="errors", errors={"reason": "Say why, for the requester and the audit log."})
            return
        user = body["user"]
        proposal_id, version = parse_value(view["private_metadata"])
        result = desk.approvals.reject(proposal_id, clicker=user["id"], team=user.get("team_id"),
                                       groups=desk.groups.of(client, user["id"]), reason=reason, version=version)
        if result.kind != "rejected" or result.record is None:
            ack(response_action="errors", errors={"reason": result.message})
            return
        ack()  # the modal closes; then the card and the requester hear of it
        record = result.record

        def tell() -> None:
            desk.refresh(client, record)
            desk.announce(client, record)

        later.quick(body, client, tell)

    @app.view(EDIT_VIEW)
    def on_edit(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        values = (view.get("state") or {}).get("values") or {}
        block = "text" if "text" in values else "amount"
        text, amount = (_value(view, "text"), None) if block == "text" else (None, None)
        if block == "amount":
            try:
                amount = parse_amount(_value(view, "amount"))
            except AmountError as exc:
                ack(response_action="errors", errors={"amount": str(exc)})
                return
        user = body["user"]
        proposal_id, version = parse_value(view["private_metadata"])
        result = desk.approvals.edit(proposal_id, clicker=user["id"], team=user.get("team_id"),
                                     groups=desk.groups.of(client, user["id"]), amount=amount, version=version,
                                     text=text)
        if result.kind != "edited":
            ack(response_action="errors", errors={block: result.message})
            if result.kind in ("changed", "expired"):
                desk.refresh(client, result.record)
            return
        ack()
        later.quick(body, client, desk.refresh, client, result.record)
