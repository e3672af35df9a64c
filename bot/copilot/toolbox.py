"""`Toolbox`: runs the copilot's tools by name and never lets a failure escape as an exception.

Arguments are validated against the tool's model; Zuora errors are mapped onto `ToolError` kinds
(not found, invalid, unavailable), and citations get Zuora UI links when `ZUORA_UI_URL` is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.copilot import (
    notes,  # noqa: F401 (registers the customer-note tools)
    portfolio,  # noqa: F401 (registers the portfolio tools)
    propose,  # noqa: F401 (registers the propose_* tools)
    risk,  # noqa: F401 (registers the churn-risk tools)
    schedules,  # noqa: F401 (registers the invoice-schedule and bill-run tools)
)
from bot.copilot.results import Citation, Result
from bot.copilot.tools import TOOLS, Tool, ToolContext, ToolError
from bot.zuora import InvoiceNotFound, ZuoraAPIError, ZuoraError, ZuoraInvalidKey
from bot.zuora.errors import ZuoraAuthError, ZuoraNotFound, ZuoraSetupError

__all__ = ["ToolOutcome", "Toolbox"]

_UI_PATHS = {"invoice": "/apps/NewInvoice.do?method=view&id={id}",
             "account": "/apps/CustomerAccount.do?method=view&id={id}",
             "payment": "/apps/NewPayment.do?method=view&id={id}",
             "subscription": "/apps/Subscription.do?method=view&id={id}"}


@dataclass(frozen=True)
class ToolOutcome:
    """One tool call: the arguments, and either a result or an error."""

    name: str
    arguments: dict[str, Any]
    result: Result | None = None
    error: ToolError | None = None

    def payload(self) -> dict[str, Any]:
        """What goes back to the model: the result as JSON data, or `{"error": …}`."""
        if self.result is not None:
            return self.result.model_dump(mode="json", exclude_none=True)
        assert self.error is not None
        payload: dict[str, Any] = {"error": self.error.message, "error_kind": self.error.kind}
        if self.error.candidates:  # names only as data (fenced, redacted), never inside our own message
            payload.update(error="Several accounts match: see candidates. Ask the user which one.",
                           candidates=self.error.candidates)
        return payload


class Toolbox:
    """Runs tools by name with validated arguments; adds Zuora UI links to citations when configured."""

    def __init__(self, context: ToolContext, *, ui_url: str | None = None) -> None:
        self.context = context
        self.ui_url = ui_url.rstrip("/") if ui_url else None

    @property
    def tools(self) -> list[Tool]:
        return list(TOOLS.values())

    def run(self, name: str, arguments: Mapping[str, Any]) -> ToolOutcome:
        """Run tool `name`; never raises for bad input or Zuora failures (the outcome carries the error)."""
        args = dict(arguments)
        tool = TOOLS.get(name)
        if tool is None:
            return ToolOutcome(name, args, error=ToolError("invalid", f"There is no tool {name!r}."))
        try:
            parsed = tool.args.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            return ToolOutcome(name, args, error=ToolError("invalid", f"Invalid arguments for {name}: {problems}"))
        try:
            return ToolOutcome(name, args, result=tool.fn(self.context, parsed))
        except ToolError as exc:
            return ToolOutcome(name, args, error=exc)
        except ZuoraInvalidKey as exc:  # a model-chosen id that is no Zuora key: nothing was sent
            return ToolOutcome(name, args, error=ToolError("invalid", str(exc)))
        except ZuoraSetupError:
            return ToolOutcome(name, args, error=ToolError(
                "setup", "The bot cannot sign in to Zuora: its set-up is wrong, this is not an outage. An "
                         "administrator should check ZUORA_BASE_URL, ZUORA_CLIENT_ID and ZUORA_CLIENT_SECRET; "
                         "nothing was changed."))
        except ZuoraAuthError as exc:
            return ToolOutcome(name, args, error=ToolError(
                "setup", f"Zuora refused this request for the bot's API user (HTTP {exc.status}): an administrator "
                         "should check that user's permissions in Zuora; nothing was changed."))
        except InvoiceNotFound as exc:
            tried = ", ".join(exc.tried) or "nothing that looks like an invoice number"
            return ToolOutcome(name, args, error=ToolError(
                "not_found", f"I couldn't find invoice {exc.typed!r} (tried {tried})."))
        except ZuoraNotFound as exc:
            return ToolOutcome(name, args, error=ToolError("not_found", f"Zuora has no such object: {_first(exc)}"))
        except ZuoraAPIError as exc:
            if exc.status < 500 and exc.status not in (401, 403, 429):
                return ToolOutcome(name, args, error=ToolError("invalid", f"Zuora refused: {_first(exc)}"))
            return ToolOutcome(name, args, error=_unavailable(exc))
        except ZuoraError as exc:
            return ToolOutcome(name, args, error=_unavailable(exc))

    def link(self, citation: Citation) -> Citation:
        """The citation with a Zuora UI link, when `ZUORA_UI_URL` is set and the object has a page."""
        path = _UI_PATHS.get(citation.kind)
        if not self.ui_url or not path:
            return citation
        return citation.model_copy(update={"url": self.ui_url + path.format(id=citation.object_id)})


def _first(exc: ZuoraAPIError) -> str:
    return exc.messages[0] if exc.messages else str(exc)


def _unavailable(exc: ZuoraError) -> ToolError:
    return ToolError("unavailable", f"Zuora is not answering right now ({type(exc).__name__}); nothing was "
                                    f"changed. Try again in a minute.")
