"""Run an approved proposal's stored Zuora request, once, and say what happened (the only Zuora writer).

POST requests carry `Idempotency-Key` = the proposal id, so a retry, a replayed click or a restart
after a crash gets Zuora's stored answer instead of a second document. PUT requests (write-off,
account update) take no key: the approval claim and the stale check guard them, and `reconcile`
reads Zuora before sending one again.

    Outcome.status
      succeeded   Zuora did it; `document` names what it created (CM…, P-…, PS-…) or changed
      failed      Zuora refused (a business error: final); `message` says why in plain words
      unknown     no usable answer (timeouts, 5xx, a request still in flight): a read settles it later
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from bot.actions.drafts import ESCALATION_FIELD
from bot.actions.proposals import Proposal, ZuoraRequest
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraAPIError, ZuoraAuthError, ZuoraConflict, ZuoraError, ZuoraServerError

__all__ = ["Outcome", "execute", "reconcile"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: Literal["succeeded", "failed", "unknown"]
    message: str
    document: str | None = None
    zuora_ids: dict[str, str] = field(default_factory=dict)


def execute(client: ZuoraClient, proposal_id: str, proposal: Proposal, request: ZuoraRequest) -> Outcome:
    """Send `request` for `proposal`; every Zuora error becomes an `Outcome`."""
    try:
        if request.method == "POST":
            body = client.post(request.path, request.body, idempotency_key=proposal_id)
        else:
            body = client.put(request.path, request.body)
    except ZuoraAuthError as exc:
        return Outcome("failed", f"Zuora refused the bot's credentials ({_first(exc)}); nothing was done.",
                       zuora_ids=_request_id(exc))
    except (ZuoraConflict, ZuoraServerError) as exc:
        return Outcome("unknown", f"Zuora did not confirm it ({exc.status}); it will be checked again before "
                                  f"anything is re-sent.", zuora_ids=_request_id(exc))
    except ZuoraAPIError as exc:
        return Outcome("failed", f"Zuora refused: {_first(exc)}", zuora_ids=_request_id(exc))
    except ZuoraError as exc:
        return Outcome("unknown", f"No answer from Zuora ({type(exc).__name__}); it will be checked again before "
                                  f"anything is re-sent.")
    return _succeeded(client, proposal, body)


def reconcile(client: ZuoraClient, proposal_id: str, proposal: Proposal, request: ZuoraRequest) -> Outcome:
    """Settle a proposal left `executing` or `unknown` (a crash, a lost answer): read Zuora, re-send if needed.

    A POST is re-sent with the same key: Zuora answers a request it already ran with the stored
    response (within its 24 h window), so this never makes a second document. A PUT is re-sent only
    when a read shows it has not taken effect.
    """
    try:
        if proposal.kind == "write_off":
            invoice = client.invoices.get(proposal.invoice_id or "")
            if invoice.balance == 0:
                memos = [m for m in client.credit_memos.list(referred_invoice_id=invoice.invoice_id)
                         if m.reason_code == "Write-off"]
                memo = memos[-1] if memos else None
                return Outcome("succeeded", "Written off (found in Zuora after a restart).",
                               document=memo.memo_number if memo else None,
                               zuora_ids={"credit_memo_id": memo.memo_id} if memo else {})
        if proposal.kind == "collections_escalation":
            account = client.accounts.get(proposal.account_id)
            if account.custom_fields.get(ESCALATION_FIELD) == proposal.fields.get(ESCALATION_FIELD):
                return Outcome("succeeded", "Account updated (found in Zuora after a restart).",
                               document=proposal.account_number)
    except ZuoraError as exc:
        return Outcome("unknown", f"Zuora could not be read ({type(exc).__name__}); will try again.")
    return execute(client, proposal_id, proposal, request)


def _succeeded(client: ZuoraClient, proposal: Proposal, body: Any) -> Outcome:
    body = body if isinstance(body, dict) else {}
    kind = proposal.kind
    if kind == "credit_memo":
        return Outcome("succeeded", f"Credit memo {body.get('number')} created, posted and applied.",
                       document=body.get("number"), zuora_ids={"credit_memo_id": str(body.get("id"))})
    if kind == "write_off":
        memo_id = str((body.get("creditMemo") or {}).get("id") or "")
        number = None
        try:
            number = client.credit_memos.get(memo_id).memo_number if memo_id else None
        except ZuoraError:
            log.warning("write-off done; could not read back credit memo %s", memo_id)
        return Outcome("succeeded", f"Written off with credit memo {number or memo_id}.", document=number,
                       zuora_ids={"credit_memo_id": memo_id})
    if kind == "payment_retry" and body.get("paymentScheduleNumber"):
        number = body["paymentScheduleNumber"]
        return Outcome("succeeded", f"Retry scheduled for {proposal.on} ({number}).", document=number,
                       zuora_ids={"payment_schedule_id": str(body.get("id"))})
    if kind == "payment_retry":
        return Outcome("succeeded", f"Payment {body.get('number')} processed for "
                                    f"{Decimal(str(body.get('amount')))} {proposal.currency}.",
                       document=body.get("number"), zuora_ids={"payment_id": str(body.get("id"))})
    if kind == "payment_plan":
        number = body.get("paymentScheduleNumber")
        return Outcome("succeeded", f"Payment schedule {number} created.", document=number,
                       zuora_ids={"payment_schedule_id": str(body.get("id"))})
    if kind == "dunning_email":
        return Outcome("succeeded", f"{proposal.invoice_number} emailed to the bill-to contact.",
                       document=proposal.invoice_number)
    return Outcome("succeeded", f"{proposal.account_number} marked for collections.", document=proposal.account_number)


def _first(exc: ZuoraAPIError) -> str:
    return exc.messages[0] if exc.messages else str(exc)


def _request_id(exc: ZuoraAPIError) -> dict[str, str]:
    return {"zuora_request_id": exc.request_id} if exc.request_id else {}


