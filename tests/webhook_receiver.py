"""An integration's webhook endpoint, for tests: records what arrives, fails on demand."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import serve_in_thread


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    url: str = ""
    # Answer this status to the next N requests (then 200).
    failing: int = 0
    fail_status: int = 503
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            status = self.fail_status if self.failing > 0 else 200
            if self.failing > 0:
                self.failing -= 1
            self.received.append(Received(body, dict(request.headers), status))
        return Response(b"", status_code=status)

    def accepted(self) -> list[dict[str, Any]]:
        """Events answered 2xx, in arrival order."""
        with self.lock:
            return [r.event for r in self.received if 200 <= r.answered < 300]

    def wait_for(self, n: int, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.accepted()) < n:
            assert time.monotonic() < deadline, f"got {self.accepted()}"
            time.sleep(0.05)
        return self.accepted()


def signature_ok(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """API.md's scheme, computed here independently of the code under test."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    t = int(parts["t"])
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - t) <= tolerance and hmac.compare_digest(mac, parts["v1"])


@contextmanager
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    def make(base: str) -> Any:
        rec.url = f"{base}/hooks"
        return Starlette(routes=[Route("/hooks", rec.handle, methods=["POST"])])

    with serve_in_thread(make):
        yield rec
