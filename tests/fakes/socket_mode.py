"""A local fake of Slack's Socket Mode WebSocket endpoint (aiohttp, 127.0.0.1 port 0, its own thread).

`FakeSlack.socket_url` points `apps.connections.open` here. The server says hello, then `send()`
pushes envelopes (slash commands, events) the way Slack does; `received` holds what the app sent
back (the acks, with their response payloads).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["FakeSocketMode"]


class FakeSocketMode:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._ws: web.WebSocketResponse | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.url = f"ws://127.0.0.1:{self._port}/link"

    async def _start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/link", self._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._port = runner.addresses[0][1]
        return runner

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"},
                            "debug_info": {"host": "fake"}})
        self.connected.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.received.append(json.loads(message.data))
        return ws

    def send(self, envelope: dict[str, Any]) -> None:
        assert self._ws is not None, "no app connected"
        asyncio.run_coroutine_threadsafe(self._ws.send_json(envelope), self._loop).result(10)

    def ack_of(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.received):
                if message.get("envelope_id") == envelope_id:
                    return message
            time.sleep(0.01)
        raise AssertionError(f"no ack for {envelope_id}; received {self.received}")

    def close(self) -> None:
        async def stop() -> None:
            if self._ws is not None:
                await self._ws.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
