"""The tool contract: what a tool gets (`ToolContext`), how it fails (`ToolError`), how it registers
(`@tool` into `TOOLS`), and the key argument types tools share (checked against Zuora's key formats
before they reach a URL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from bot.actions.kinds.subscription_change import ChangeSettings
from bot.copilot.results import Result
from bot.zuora import ZuoraClient
from bot.zuora.invoices import invoice_number_forms
from bot.zuora.keys import is_key

__all__ = ["TOOLS", "AccountKey", "ErrorKind", "InvoiceKey", "SubscriptionKey", "Tool", "ToolContext", "ToolError",
           "tool"]

ErrorKind = Literal["not_found", "ambiguous", "invalid", "unavailable", "setup"]


def _invoice_key(value: str) -> str:
    if not invoice_number_forms(value):
        raise ValueError("not an invoice number (INV00000042, INV-42, #42) or a 32-hex invoice id")
    return value


def _account_number(value: str) -> str:
    if not is_key("account", value.strip()):
        raise ValueError("not an account number (A00000007) or a 32-hex account id")
    return value


def _subscription_key(value: str) -> str:
    if not is_key("subscription", value.strip()):
        raise ValueError("not a subscription number (A-S00000002) or a 32-hex subscription id")
    return value


InvoiceKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_invoice_key)]
"""An invoice as typed, checked against Zuora's key formats before it reaches a URL."""
AccountKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_account_number)]
"""An account number or id (not a name)."""
SubscriptionKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_subscription_key)]


class ToolError(Exception):
    """A tool could not answer; `message` says why in words a person or a model can act on."""

    def __init__(self, kind: ErrorKind, message: str, *, candidates: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.candidates = candidates or []
        """For `ambiguous`: the matches (`name`, `account_number`), as data a redactor can see."""


@dataclass(frozen=True)
class ToolContext:
    """What every tool needs: the Zuora client and today's date (the tenant's, for the sandbox)."""

    client: ZuoraClient
    today: Callable[[], date] = date.today
    changes: ChangeSettings = ChangeSettings()
    """Settings of the subscription-change and retention-offer proposals."""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The clock a preview is stamped with (approvals re-preview after `PREVIEW_TTL_MINUTES`)."""
    data_query: bool = False
    """Portfolio questions run as Data Query SQL jobs instead of Object Query pages (`ZUORA_DATA_QUERY`)."""
    notes: Any = None
    """`bot.copilot.notes.NoteSettings` for `propose_invoice_note` (None: the defaults)."""


@dataclass(frozen=True)
class Tool:
    """A registered tool: its name, argument model, description (the docstring) and function."""

    name: str
    args: type[BaseModel]
    fn: Callable[[ToolContext, Any], Result]

    @property
    def description(self) -> str:
        return " ".join((self.fn.__doc__ or "").split())

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema (litellm translates it for other providers)."""
        params = self.args.model_json_schema()
        params.pop("title", None)
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": params}}


TOOLS: dict[str, Tool] = {}


def tool(args: type[BaseModel]) -> Callable[[Callable[[ToolContext, Any], Result]], Callable[..., Result]]:
    def register(fn: Callable[[ToolContext, Any], Result]) -> Callable[..., Result]:
        TOOLS[fn.__name__] = Tool(fn.__name__, args, fn)
        return fn
    return register
