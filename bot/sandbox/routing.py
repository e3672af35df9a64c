"""Route registration for the sandbox: handlers declare `@route(METHOD, pattern)`; `Call` is what
a handler receives (the parsed request and the tenant)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.sandbox.errors import SandboxError
from bot.sandbox.state import Tenant

__all__ = ["ROUTES", "Call", "Reply", "route"]


@dataclass
class Reply:
    """A handler's answer: status and JSON body (plus headers when needed)."""

    body: Any
    status: int = 200


@dataclass
class Call:
    """One request as a handler sees it."""

    method: str
    path: str
    params: list[tuple[str, str]]
    raw_body: bytes
    tenant: Tenant
    version: str
    base_url: str
    args: dict[str, str]
    form: dict[str, str]

    def param(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter."""
        values = [v for k, v in self.params if k == name]
        return values[-1] if values else default

    def int_param(self, name: str, default: int, *, low: int = 1, high: int = 10**9) -> int:
        """An integer query parameter within [low, high], else a category-27 error."""
        value = self.param(name)
        if value is None:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            raise SandboxError(27 if self.path.startswith("/object-query") else 20,
                               f"Invalid value for '{name}': must be an integer from {low} to {high}")
        return int(value)

    def json(self) -> dict[str, Any]:
        """The JSON body, numbers as `Decimal`; malformed JSON is a category-90 error."""
        if not self.raw_body.strip():
            return {}
        try:
            body = json.loads(self.raw_body, parse_float=Decimal)
        except ValueError:
            raise SandboxError(90, "Malformed JSON in the request body") from None
        if not isinstance(body, dict):
            raise SandboxError(90, "The request body must be a JSON object")
        return body

    @property
    def version_date(self) -> bool:
        """True when the request's Zuora-Version is a date at or after 2024-05-20."""
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.version)) and self.version >= "2024-05-20"


Handler = Callable[[Call], Reply]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for `method` and a path pattern with `{name}` segments."""
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def register(fn: Handler) -> Handler:
        ROUTES.append((method, regex, fn))
        return fn

    return register
