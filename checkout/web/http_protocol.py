"""Uvicorn's httptools protocol with the two limits it lacks: the size of a request's
head (request line and headers) and the time allowed to send it.

httptools buffers a header of any length and waits for the end of the headers forever
(uvicorn's keep-alive timeout only runs between requests); h11's
``h11_max_incomplete_event_size`` does not apply to it. So a client could hold memory with
a megabyte of header, or a connection with one header byte every few seconds. Here the
head may be at most ``config.h11_max_incomplete_event_size`` bytes (the same setting, so
both HTTP implementations keep one limit; over it: ``431``) and must arrive within
``header_timeout`` seconds of the request's first byte or of the connection opening
(``408``). Either answer is API.md's error format, and the connection is closed.

The head is measured twice: the request line and headers as httptools reports them, when
they are complete (an oversized head is refused before any handler runs), and the raw
bytes received while they are still incomplete, so a head that never ends is cut off
within one read (at most 256 KiB with uvloop) past the limit.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from checkout.web.errors import error_body
from checkout.web.request_id import new_request_id
from checkout.web.security_headers import COMMON_HEADERS

log = logging.getLogger("checkout.web")

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing; httptools reports it as a parse error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_head = int(self.config.h11_max_incomplete_event_size or 16 * 1024)
        self._in_head = False
        self._head_bytes = 0  # raw bytes received while the head is incomplete
        self._head_size = 0  # request line and headers as parsed
        self._too_large = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head:
                self._refuse(431, "head_too_large", "Request headers are too large.")

    def send_400_response(self, msg: str) -> None:
        if self._too_large:  # our own callback stopped the parser
            self._refuse(431, "head_too_large", "Request headers are too large.")
            return
        super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._head_size = 0
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        if self._head_size > self._max_head:
            self._too_large = True
            raise _HeadTooLarge
        super().on_headers_complete()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if self.transport.is_closing() or (busy and not self._in_head):
            return
        if self._in_head:
            self._refuse(408, "request_timeout", "The request headers did not arrive in time.")
        else:
            # Connected but never started a request: nothing to answer.
            self.transport.close()

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._disarm_head_timer()
        log.warning("request refused before its headers were read", extra={"status": status})
        rid = new_request_id()
        body = error_body(code, message, rid)
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        headers = [
            *COMMON_HEADERS,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", rid.encode()),
            (b"connection", b"close"),
        ]
        head.extend(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self.transport.close()


def protocol_class(header_timeout: float) -> type[BoundedHttpToolsProtocol]:
    """A subclass carrying the listener's header timeout (uvicorn instantiates the class)."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"header_timeout": header_timeout},
    )
