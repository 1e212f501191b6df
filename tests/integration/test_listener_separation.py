"""Each listener answers only its own routes, whatever the request claims about where it
came from: both real apps' route tables are walked, every method of every route."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from starlette.routing import Route

from checkout.access.scopes import Scope
from checkout.context import AppContext
from checkout.web.factory import create_private_app, create_public_app
from checkout.web.s2s_auth import policy_of
from tests.integration.helpers import route_table

pytestmark = pytest.mark.anyio

# What a client might send to pass for a local caller or for the private listener.
SPOOFED = {
    "Host": "127.0.0.1:8001",
    "X-Forwarded-For": "127.0.0.1",
    "X-Forwarded-Host": "127.0.0.1:8001",
    "X-Real-IP": "127.0.0.1",
    "Forwarded": "for=127.0.0.1;host=127.0.0.1:8001",
}


# The one path on both listeners: each serves its own document, describing only itself
# (tests/integration/test_openapi.py checks that neither names the other's routes).
SELF_DESCRIPTION = "/openapi.json"


def _routes(app: object) -> Iterator[tuple[str, str, Route]]:
    for route in route_table(app):
        assert isinstance(route, Route), route
        if route.path == SELF_DESCRIPTION:
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield method, re.sub(r"\{[^}]+\}", "x_1", route.path), route


def all_scopes(ctx: AppContext) -> dict[str, str]:
    _, secret = ctx.api_keys.create(frozenset(Scope))
    return {"Authorization": f"Bearer {secret}"}


async def test_every_private_route_is_404_on_the_public_listener_even_with_a_key(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    headers = {**all_scopes(ctx), **SPOOFED}
    seen = 0
    for method, path, _ in _routes(create_private_app(ctx)):
        for h in ({}, headers):
            r = await api.request(method, path, headers=h, json={})
            assert r.status_code == 404, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "not_found"
        seen += 1
    assert seen >= 10


async def test_every_public_route_is_404_on_the_private_listener(
    ctx: AppContext, private_api: httpx.AsyncClient
) -> None:
    headers = {**all_scopes(ctx), "Host": "127.0.0.1:8000", "X-Forwarded-Host": "shop.example"}
    seen = 0
    for method, path, _ in _routes(create_public_app(ctx)):
        r = await private_api.request(method, path, headers=headers, json={})
        assert r.status_code == 404, (method, path, r.status_code)
        seen += 1
    assert seen >= 20


async def test_the_two_apps_share_no_path_and_no_route_object(ctx: AppContext) -> None:
    public = list(_routes(create_public_app(ctx)))
    private = list(_routes(create_private_app(ctx)))
    assert not {p for _, p, _ in public} & {p for _, p, _ in private}
    assert not {id(r) for *_, r in public} & {id(r) for *_, r in private}


async def test_spoofed_origin_headers_do_not_open_a_private_route_without_a_key(
    ctx: AppContext, private_api: httpx.AsyncClient
) -> None:
    guarded = [
        (m, p) for m, p, r in _routes(create_private_app(ctx)) if policy_of(r.endpoint) != "open"
    ]
    assert guarded
    for method, path in guarded:
        r = await private_api.request(method, path, headers=SPOOFED, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["error"]["code"] == "unauthenticated"
