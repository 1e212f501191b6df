"""Test-only: write every request that reaches a listener, raw, to a JSON-lines file.

Enabled by ``CHECKOUT_TEST_RECORD_REQUESTS=<file>`` (refused in production by the
configuration). It sits outside every other layer, the card-data guard included, so the
file shows exactly what arrived, refused or not: the storefront test reads it to prove
that no card number ever reached our listeners.
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestRecorder:
    def __init__(self, app: ASGIApp, *, path: Path, listener: str) -> None:
        self.app = app
        self.path = path
        self.listener = listener
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        try:
            await self.app(scope, recording_receive, send)
        finally:
            self._write(scope, bytes(body))

    def _write(self, scope: Scope, body: bytes) -> None:
        entry = {
            "listener": self.listener,
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body_b64": base64.b64encode(body).decode(),
        }
        line = json.dumps(entry) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
