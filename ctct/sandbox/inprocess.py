"""A synchronous httpx transport that serves requests from the sandbox app in this process.

httpx's ASGITransport is async-only; the console's client is synchronous. This runs the
ASGITransport on an event loop in a helper thread (an anyio blocking portal) and hands each
finished response back, so a plain `httpx.Client` can talk to the sandbox without a socket.
"""

from __future__ import annotations

import atexit
from contextlib import AbstractContextManager
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal


class SandboxTransport(httpx.BaseTransport):
    def __init__(self, app: Any) -> None:
        self.app = app
        self._asgi = httpx.ASGITransport(app=app)
        self._portal_context: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        self._portal = self._portal_context.__enter__()
        self._closed = False
        # The portal's thread would keep the interpreter alive if a caller forgot to close.
        atexit.register(self.close)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self._portal.call(self._send, request)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._portal_context.__exit__(None, None, None)
            atexit.unregister(self.close)
