"""Security headers on every response of both listeners.

The listeners serve JSON only, so one strict policy fits every response: nothing may be
loaded, framed or sniffed as another type, no referrer leaves, and nothing is cached
unless the endpoint says otherwise (an endpoint that sets its own ``Cache-Control`` keeps
it; none does today, since most answers are personal). HSTS goes on the public listener's
responses that travelled over HTTPS: TLS on the listener itself, or a trusted proxy's
``X-Forwarded-Proto: https`` (browsers ignore HSTS received over plain HTTP anyway).
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from checkout.tls import HSTS

Header = tuple[bytes, bytes]

COMMON_HEADERS: Final[tuple[Header, ...]] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
NO_STORE: Final[Header] = (b"cache-control", b"no-store")
HSTS_HEADER: Final[Header] = (b"strict-transport-security", HSTS.encode())


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = COMMON_HEADERS
        if self.hsts and scope.get("scheme") == "https":
            extra = (*COMMON_HEADERS, HSTS_HEADER)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.extend(extra)
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
