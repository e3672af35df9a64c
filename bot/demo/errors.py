"""The demo's one exception: `DemoError`, a request from the page that cannot be done (unknown user, channel or
message, nothing to send); the page gets HTTP 400 with its message."""

from __future__ import annotations

__all__ = ["DemoError"]


class DemoError(Exception):
    """A page request that cannot be done (its message is shown)."""
