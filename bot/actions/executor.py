"""Run an approved proposal's stored Zuora request, once, and say what happened (the only Zuora writer).

POST requests carry `Idempotency-Key` = the proposal id, so a retry, a replayed click or a restart
after a crash gets Zuora's stored answer instead of a second document. PUT requests (write-off,
account update) take no key: the approval claim and the stale check guard them, and `find`
reads Zuora for the effect before anything is sent again.

    Outcome.status
      succeeded   Zuora did it; `document` names what it created (CM…, P-…, PS-…) or changed
      failed      Zuora refused (a business error: final); `message` says why in plain words
      unknown     no usable answer (timeouts, 5xx, a request still in flight): a read settles it later
"""

from __future__ import annotations

import logging

from bot.actions.kinds import Outcome, Proposal, ZuoraRequest
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraAPIError, ZuoraAuthError, ZuoraConflict, ZuoraError, ZuoraServerError

__all__ = ["Outcome", "execute", "find"]

log = logging.getLogger(__name__)


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
    return proposal.outcome(client, body if isinstance(body, dict) else {})


def find(client: ZuoraClient, proposal_id: str, proposal: Proposal) -> Outcome | None:
    """The request's effect, if Zuora shows it (a crash or a lost answer left it unconfirmed); None if not seen.

    Raises `ZuoraError` when Zuora cannot be read.
    """
    return proposal.find(client, proposal_id)


def _first(exc: ZuoraAPIError) -> str:
    return exc.messages[0] if exc.messages else str(exc)


def _request_id(exc: ZuoraAPIError) -> dict[str, str]:
    return {"zuora_request_id": exc.request_id} if exc.request_id else {}


