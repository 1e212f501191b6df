"""Small helpers the API tests share: row counts, a standard checkout body, a signed-in
customer, the emails queued."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from checkout.context import AppContext
from checkout.web.factory import create_public_app
from customers.outbox import OutgoingEmail
from tests.conftest import Emulator

ADDRESS = {
    "name": "Jane Doe",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


def checkout_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "currency": "USD",
        "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 2}, {"sku": "MUG-WHITE", "quantity": 1}],
        "email": "jane.doe@example.com",
        "shipping_address": ADDRESS,
    }
    body.update(overrides)
    return body


def count(ctx: AppContext, table: str) -> int:
    with ctx.db.engine.connect() as conn:
        return int(conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one())


def counts(ctx: AppContext) -> dict[str, int]:
    return {
        t: count(ctx, t)
        for t in ("checkouts", "payments", "orders", "order_lines", "idempotency_keys")
    }


async def pay_checkout(ctx: AppContext, emulator: Emulator) -> dict[str, Any]:
    """A checkout of 62.00 USD (``checkout_body``) paid with a test card; the payment JSON."""
    transport = httpx.ASGITransport(app=create_public_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
        r = await api.post(
            f"/v1/checkouts/{chk['id']}/payments",
            headers={"X-Checkout-Secret": chk["client_secret"]},
            json={"provider": "stripe", "payment_token": emulator.tokenize()},
        )
    assert r.status_code == 201, r.text
    return dict(r.json())


PASSWORD = "correct horse battery staple 42"


async def sign_up(
    api: httpx.AsyncClient, email: str = "cust@example.com", password: str = PASSWORD
) -> tuple[str, dict[str, str]]:
    """A new customer, signed in: their id and the Authorization header of their token."""
    r = await api.post("/v1/customers", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    s = await api.post("/v1/sessions", json={"email": email, "password": password})
    assert s.status_code == 201, s.text
    return str(r.json()["id"]), {"Authorization": f"Bearer {s.json()['token']}"}


class CapturedMail:
    """A mail sender that keeps what it is given (a written fake, not a patch)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []

    def send(self, email: OutgoingEmail) -> None:
        self.sent.append(email)


async def drain_mail(ctx: AppContext) -> list[OutgoingEmail]:
    """Send the queued emails to a capturing sender; what went out."""
    captured = CapturedMail()
    ctx.mail.sender = captured
    await ctx.mail.run_once()
    return captured.sent


def route_table(app: object) -> list[BaseRoute]:
    """The route table of an app as its factory built it (under the edge, hardening and
    any test-only layers, each holding the next as ``.app``)."""
    inner = app
    for _ in range(10):
        if isinstance(inner, Starlette):
            return list(inner.routes)
        inner = getattr(inner, "app", None)
    raise AssertionError(f"no Starlette app under {app!r}")
