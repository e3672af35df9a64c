"""Serve a `ZuoraSandbox` over real HTTP (WSGI on a thread pool), for the demo and socket-level tests."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx

from bot.sandbox.emulator import ZuoraSandbox

__all__ = ["SandboxServer", "serve"]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def wsgi_app(sandbox: ZuoraSandbox) -> Any:
    """A WSGI application answering with `sandbox.handle`."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        query = environ.get("QUERY_STRING", "")
        url = f"http://{host}{environ.get('PATH_INFO', '/')}" + (f"?{query}" if query else "")
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        request = httpx.Request(environ["REQUEST_METHOD"], url, headers=headers, content=body)
        try:
            response = sandbox.handle(request)
        except httpx.TimeoutException:
            # An injected timeout: Zuora's gateway gives up with a 504.
            response = httpx.Response(504, json={"message": "Gateway Timeout"})
        phrase = response.reason_phrase or "OK"
        start_response(f"{response.status_code} {phrase}", [
            (k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "transfer-encoding")
        ] + [("Content-Length", str(len(response.content)))])
        return [response.content]

    return app


class SandboxServer:
    """A running sandbox server; `url` is its base URL. Stop it with `close()` or `with`."""

    def __init__(self, sandbox: ZuoraSandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self._server = make_server(host, port, wsgi_app(sandbox), server_class=_ThreadingServer,
                                   handler_class=_QuietHandler)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="zuora-sandbox", daemon=True)

    def start(self) -> SandboxServer:
        """Start serving on a background thread."""
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted."""
        self._server.serve_forever()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(sandbox: ZuoraSandbox | None = None, *, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Start a sandbox server on a background thread and return it."""
    return SandboxServer(sandbox or ZuoraSandbox(), host, port).start()
