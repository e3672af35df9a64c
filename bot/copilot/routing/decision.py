"""What the router decides (pure): the `Route` to take and the `Context` a follow-up is read against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Context", "Route", "clarify"]


@dataclass(frozen=True)
class Route:
    """What the router decided: a tool with arguments, help, or a clarifying question."""

    kind: Literal["tool", "help", "clarify"]
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    expect: Literal["higher", "lower"] | None = None
    """For explanations: the direction the question assumed ("why is X higher")."""


@dataclass(frozen=True)
class Context:
    """What a conversation was last about, for follow-ups (from `Answer.about` plus the tool that answered)."""

    tool: str | None = None
    invoice: str | None = None
    previous_invoice: str | None = None
    account: str | None = None
    subscription: str | None = None

    @classmethod
    def of(cls, tool: str | None, about: Mapping[str, str]) -> Context:
        return cls(tool=tool, invoice=about.get("invoice"), previous_invoice=about.get("previous_invoice"),
                   account=about.get("account"), subscription=about.get("subscription"))


def clarify(message: str) -> Route:
    """A clarifying question to ask instead of calling a tool."""
    return Route("clarify", message=message)
