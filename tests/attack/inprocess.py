"""Both listeners of one context, in process, on one event loop of their own.

schemathesis and hypothesis drive requests from plain (synchronous) test code, while the
context's database pool, provider clients and locks belong to the loop they were first
used on. So the context is built and used, and closed, on one loop: a blocking portal's.
Requests go through httpx's ASGI transport, as the other in-process tests do.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from schemathesis import Case
from schemathesis.core.transport import Response as StResponse

from checkout.access.roles import Role
from checkout.access.scopes import Scope
from checkout.config import Settings
from checkout.context import AppContext, build_context
from checkout.seed import seed_demo_catalog
from checkout.store.audit import Actor
from checkout.web.factory import create_private_app, create_public_app
from checkout.web.openapi import served_operations
from tests.integration.helpers import route_table
from tests.staff_codes import code

PUBLIC = "http://public.test"
PRIVATE = "http://private.test"
PASSWORD = "correct horse battery staple 42"


class Listeners:
    def __init__(self, portal: BlockingPortal, ctx: AppContext) -> None:
        self.portal = portal
        self.ctx = ctx
        apps = {"public": create_public_app(ctx), "private": create_private_app(ctx)}
        self.clients = {
            name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)
            for (name, app), base in zip(apps.items(), (PUBLIC, PRIVATE), strict=True)
        }
        # What each app serves: a documented operation not mounted yet is not fuzzed.
        self.served = {name: set(served_operations(route_table(app))) for name, app in apps.items()}

    def request(self, listener: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        client = self.clients[listener]
        response: httpx.Response = self.portal.call(
            functools.partial(client.request, method, url, **kwargs)
        )
        return response

    def document(self, listener: str) -> dict[str, Any]:
        r = self.request(listener, "GET", "/openapi.json")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def send(
        self, listener: str, case: Case[Any], headers: dict[str, str] | None = None
    ) -> StResponse:
        """``case`` sent to ``listener`` with ``headers`` added; schemathesis' response."""
        base = PUBLIC if listener == "public" else PRIVATE
        kw = case.as_transport_kwargs(base_url=base, headers=headers)
        body: dict[str, Any] = {}
        if "json" in kw:
            body["json"] = kw["json"]
        elif isinstance(kw.get("data"), bytes | str):
            body["content"] = kw["data"]
        elif kw.get("data") is not None:
            body["data"] = kw["data"]
        sent = dict(kw.get("headers") or {})
        if kw.get("cookies"):  # none are declared; httpx takes cookies per client only
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in kw["cookies"].items())
        r = self.request(
            listener, kw["method"], kw["url"], params=kw.get("params"), headers=sent, **body
        )
        return StResponse.from_any(r)

    # Credentials, made the way the product makes them.

    def customer_token(self, email: str) -> str:
        body = {"email": email, "password": PASSWORD}
        r = self.request("public", "POST", "/v1/customers", json=body)
        assert r.status_code == 201, r.text
        s = self.request("public", "POST", "/v1/sessions", json=body)
        assert s.status_code == 201, s.text
        return str(s.json()["token"])

    def staff_token(self, role: Role) -> str:
        """A member enrolled as ``checkout staff create`` does, signed in with a TOTP code."""
        done = self.portal.call(
            self.ctx.staff.create, f"{role.value}@staff.example", role, Actor("cli")
        )
        r = self.request(
            "public",
            "POST",
            "/staff/v1/sessions",
            json={
                "email": done.member.email.expose(),
                "password": done.password,
                "totp": code(done.otpauth_uri),
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["token"])

    def api_key(self) -> str:
        _, secret = self.ctx.api_keys.create(frozenset(Scope), "schemathesis")
        return secret


@contextmanager
def listeners(settings: Settings) -> Iterator[Listeners]:
    # Rate limits off: the fuzzer signs in and registers hundreds of times from one
    # address, and a run of 429s would keep it from exploring (the limiter has tests of
    # its own, and 429 stays a documented answer).
    settings = replace(settings, network=replace(settings.network, rate_limits={}))
    with start_blocking_portal() as portal:
        ctx = build_context(settings)
        seed_demo_catalog(ctx.catalog)
        both = Listeners(portal, ctx)
        try:
            yield both
        finally:
            for client in both.clients.values():
                portal.call(client.aclose)
            portal.call(ctx.aclose)
