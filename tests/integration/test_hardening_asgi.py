"""The request deadline and the security headers, in process."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from checkout.context import AppContext
from checkout.web.request_timeout import RequestTimeout
from checkout.web.security_headers import SecurityHeaders

pytestmark = pytest.mark.anyio


async def slow(request: Request) -> Response:
    await asyncio.sleep(5)
    return JSONResponse({})


async def own_timeout(request: Request) -> Response:
    raise TimeoutError


async def cached(request: Request) -> Response:
    return JSONResponse({}, headers={"Cache-Control": "public, max-age=60"})


def _app() -> Starlette:
    return Starlette(
        routes=[Route("/slow", slow), Route("/own", own_timeout), Route("/cached", cached)]
    )


async def test_a_handler_past_the_deadline_is_stopped_with_503() -> None:
    app = SecurityHeaders(RequestTimeout(_app(), seconds=0.2), hsts=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        r = await http.get("/slow")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "service_unavailable"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in r.headers  # plain http


async def test_a_handlers_own_timeout_error_is_not_mistaken_for_the_deadline() -> None:
    transport = httpx.ASGITransport(
        app=RequestTimeout(_app(), seconds=5), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        r = await http.get("/own")
    assert r.status_code == 500


async def test_an_endpoints_own_cache_control_is_kept_and_https_gets_hsts() -> None:
    transport = httpx.ASGITransport(app=SecurityHeaders(_app(), hsts=True))
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
        r = await http.get("/cached")
    assert r.headers.get_list("cache-control") == ["public, max-age=60"]
    assert r.headers["strict-transport-security"].startswith("max-age=")


async def test_the_public_app_answers_with_security_headers(ctx: AppContext) -> None:
    from checkout.web.factory import create_private_app, create_public_app

    for app in (create_public_app(ctx), create_private_app(ctx)):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.get("/nowhere")
        assert r.status_code == 404
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-frame-options"] == "DENY"
