"""The page's HTTP side of the demo: `GET /` the page, `GET /demo/state` and `/demo/config`, and the page's
JSON requests (`POST /demo/{send,click,submit,close,open,simulate,reset}`), each routed to a `Demo` method."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from bot.demo.errors import DemoError

if TYPE_CHECKING:
    from bot.demo.server import Demo

__all__ = ["page_wsgi"]


def page_wsgi(demo: Demo, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer a request of the page (anything but the app's own routes)."""
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    if path in ("/", "/index.html") and method == "GET":
        page = resources.files("bot.demo").joinpath("page.html").read_bytes()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                                  ("Content-Length", str(len(page)))])
        return [page]
    try:
        if path == "/demo/state" and method == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            since = int((query.get("since") or ["-1"])[0])
            return _json(start_response, "200 OK", demo.state(since))
        if path == "/demo/config" and method == "GET":
            return _json(start_response, "200 OK", demo.config())
        if not path.startswith("/demo/") or method != "POST":
            return _json(start_response, "404 Not Found", {"error": "not found"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > 64 * 1024:
            raise DemoError("request too large")
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        if not isinstance(body, dict):
            raise DemoError("expected a JSON object")
        return _json(start_response, "200 OK", _route(demo, path.removeprefix("/demo/"), body))
    except (DemoError, ValueError, KeyError, TypeError) as exc:
        return _json(start_response, "400 Bad Request", {"error": str(exc) or type(exc).__name__})


def _route(demo: Demo, name: str, body: dict[str, Any]) -> dict[str, Any]:
    user = str(body.get("user") or "")
    if name == "send":
        return demo.send(user, str(body["channel"]), str(body.get("text") or ""), body.get("thread_ts") or None)
    if name == "click":
        action = body["action"]
        if not isinstance(action, dict):
            raise DemoError("action must be an object")
        return demo.click(user, action, channel=body.get("channel"), ts=body.get("ts"),
                          surface=str(body.get("surface") or "message"))
    if name == "submit":
        return demo.submit(user, body.get("values") or {})
    if name == "close":
        demo.close_modal(user)
        return {"ok": True}
    if name == "open":
        return demo.open_tab(user, str(body.get("tab")))
    if name == "simulate":
        return demo.simulate(str(body.get("kind")), body.get("account"))
    if name == "reset":
        demo.reset()
        return {"ok": True}
    raise DemoError(f"unknown request {name!r}")


def _json(start_response: Callable[..., Any], status: str, payload: Any) -> list[bytes]:
    data = json.dumps(payload, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                            ("Content-Length", str(len(data)))])
    return [data]
