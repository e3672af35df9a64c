"""The WSGI application of `python -m bot serve`: `POST /slack/events` (Bolt's adapter behind the signature
check of `bot.slack.verify`), `POST /zuora/callouts`, `GET /healthz`. `serve()` runs it under waitress (a
production WSGI server from PyPI, pure Python, threaded), which buffers at most `MAX_REQUEST_BODY` per request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Server", "WSGIApp", "head_without_body", "make_wsgi", "serve"]

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_wsgi(slack: WSGIApp, health: Callable[[], dict[str, Any]], callouts: WSGIApp | None = None) -> WSGIApp:
    """Route `/slack/events` to Slack, `/zuora/callouts` to `callouts`, `/healthz` to `health()`; else 404."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events":
            if method != "POST":
                return _json(start_response, "405 Method Not Allowed", {"error": "POST only"}, [("Allow", "POST")])
            try:
                return slack(environ, start_response)
            except ValueError:  # Bolt parses the body before it checks the signature
                log.warning("slack: refused a request whose body is neither JSON nor form data")
                return _json(start_response, "400 Bad Request", {"error": "the body is neither JSON nor form data"})
        if path == "/zuora/callouts" and callouts is not None:
            return callouts(environ, start_response)
        if path == "/healthz" and method in ("GET", "HEAD"):
            try:
                status = health()
            except Exception as exc:  # a failing check is the answer, not a crash
                log.warning("healthz: %s", type(exc).__name__)
                return _json(start_response, "503 Service Unavailable", {"ok": False, "error": type(exc).__name__})
            return _json(start_response, "200 OK" if status.get("ok") else "503 Service Unavailable", status)
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return head_without_body(app)


def head_without_body(app: WSGIApp) -> WSGIApp:
    """`app`, except that a HEAD request gets the headers only (same status and Content-Length as GET).

    waitress sends whatever body the application returns, even for HEAD; on a kept-alive connection
    the client then reads those bytes as the start of the next response.
    """

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        result = app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return result
        try:
            for _ in result:  # run the application to the end (start_response included), send nothing
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return []

    return wrapped


def _json(start_response: Callable[..., Any], status: str, payload: dict[str, Any],
          headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            *(headers or [])])
    return [body]


MAX_REQUEST_BODY = 2 * 1024 * 1024
"""What waitress buffers at most per request (the routes cap lower: 1 MiB Slack, 256 KB callouts)."""


def serve(app: WSGIApp, *, host: str, port: int, threads: int = 8) -> None:
    """Serve `app` with waitress until interrupted."""
    Server(app, host=host, port=port, threads=threads).run()


class Server:
    """`app` under waitress. `stop(grace)` (from any thread) closes the listening socket at once, lets
    requests already received finish for up to `grace` seconds, then ends `run()`."""

    def __init__(self, app: WSGIApp, *, host: str, port: int, threads: int = 8) -> None:
        import waitress

        self.host = host
        self._server: Any = waitress.create_server(app, host=host, port=port, threads=threads,
                                                   ident="billing-copilot",
                                                   max_request_body_size=MAX_REQUEST_BODY)
        self.port = int(self._server.effective_port)

    def run(self) -> None:
        log.info("billing-copilot listening on http://%s:%d (POST /slack/events, POST /zuora/callouts, "
                 "GET /healthz)", self.host, self.port)
        try:
            self._server.run()
        finally:
            self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)

    def stop(self, grace: float) -> bool:
        """Stop accepting; True if the requests in flight finished within `grace` seconds."""
        from waitress import wasyncore

        server = self._server
        # the listening socket only (the server's own close() also closes the trigger): no new connections
        server.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(server))
        deadline = time.monotonic() + grace
        dispatcher = server.task_dispatcher
        while (dispatcher.active_count or dispatcher.queue) and time.monotonic() < deadline:
            time.sleep(0.05)
        finished = not (dispatcher.active_count or dispatcher.queue)
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        return finished
