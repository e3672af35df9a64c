"""The sandbox's one error type: a Zuora reason category, a message, and an optional status."""

from __future__ import annotations

__all__ = ["SandboxError"]


class SandboxError(Exception):
    """A Zuora business error. `category` is the last two digits of Zuora's 8-digit reason code."""

    def __init__(self, category: int, message: str, *, resource: int = 500000, status: int | None = None) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.code = resource * 100 + category
        self.status = status
