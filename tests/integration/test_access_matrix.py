"""API.md's access tables as a matrix, on both backends: every staff route and every
private route, asked by every role, anonymous, a customer, an API key holding every
scope, and dead staff tokens; each cell is 401, 403, 404 or the route's success.

The routes are rows of a declarative table; a test fails if either app has a staff or
private route the table does not list. A cell whose caller may act gets an object of its
own in the state the action needs (so "success" is the real thing); refused cells all
point at one bystander order and member, which must come out of the run unchanged.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.access.roles import Role
from checkout.access.scopes import Scope
from checkout.context import AppContext
from checkout.web.factory import create_private_app, create_public_app
from tests.conftest import Emulator
from tests.integration.helpers import pay_checkout, sign_up
from tests.integration.test_listeners import _app_routes, _policies
from tests.integration.test_staff_api import bearer, enrol

pytestmark = pytest.mark.anyio

ROLES = tuple(Role)  # least privilege first


@dataclass(frozen=True)
class StaffRow:
    method: str
    path: str  # with {id} where the object goes
    least: Role | None  # None: any live staff session
    success: int
    body: dict[str, Any] | None = None
    target: str = "none"  # which object a permitted caller gets: see World.target


# API.md, "Staff", and its roles table.
STAFF_TABLE = (
    StaffRow("GET", "/staff/v1/orders", Role.VIEWER, 200),
    StaffRow("GET", "/staff/v1/orders/{id}", Role.VIEWER, 200, target="order"),
    StaffRow("POST", "/staff/v1/orders/{id}/capture", Role.MANAGER, 200, {}, "authorized"),
    StaffRow(
        "POST",
        "/staff/v1/orders/{id}/refunds",
        Role.SUPPORT,
        201,
        {"amount": 100, "reason": "matrix"},
        "paid",
    ),
    StaffRow("POST", "/staff/v1/orders/{id}/cancel", Role.SUPPORT, 200, None, "authorized"),
    StaffRow(
        "POST",
        "/staff/v1/orders/{id}/fulfillments",
        Role.FULFILLMENT,
        201,
        {"carrier": "UPS", "tracking_number": "1ZMATRIX"},
        "authorized",
    ),
    StaffRow("GET", "/staff/v1/staff", Role.ADMIN, 200),
    StaffRow("POST", "/staff/v1/staff", Role.ADMIN, 201, {"role": "viewer"}, "new_email"),
    StaffRow("PATCH", "/staff/v1/staff/{id}", Role.ADMIN, 200, {"role": "viewer"}, "member"),
    StaffRow("GET", "/staff/v1/audit-events", Role.ADMIN, 200),
    # Last: it ends the caller's session.
    StaffRow("DELETE", "/staff/v1/sessions/current", None, 204),
)
# Open by design (its body is the credential): not in the matrix.
STAFF_OPEN = {("/staff/v1/sessions", "POST")}


@dataclass(frozen=True)
class PrivateRow:
    method: str
    path: str
    scope: Scope | None  # None: open (health, metrics)
    success: int
    body: dict[str, Any] | None = None
    target: str = "none"


# API.md, "Private listener".
PRIVATE_TABLE = (
    PrivateRow("GET", "/healthz", None, 200),
    PrivateRow("GET", "/metrics", None, 200),
    PrivateRow("GET", "/openapi.json", None, 200),  # the listener's own document
    PrivateRow("GET", "/s2s/v1/orders", Scope.ORDERS_READ, 200),
    PrivateRow("GET", "/s2s/v1/orders/{id}", Scope.ORDERS_READ, 200, target="order"),
    PrivateRow(
        "POST",
        "/s2s/v1/orders/{id}/fulfillments",
        Scope.ORDERS_FULFILL,
        201,
        {"carrier": "DHL", "tracking_number": "JD0001"},
        "authorized",
    ),
    PrivateRow("GET", "/s2s/v1/customers/{id}", Scope.CUSTOMERS_READ, 200, target="customer"),
    PrivateRow(
        "PUT",
        "/s2s/v1/products/{id}",
        Scope.CATALOG_WRITE,
        200,
        {"name": "Mug, white", "price": {"amount": 1200, "currency": "USD"}, "active": True},
        "sku",
    ),
    PrivateRow(
        "POST",
        "/s2s/v1/webhook-endpoints",
        Scope.WEBHOOKS_MANAGE,
        201,
        {"url": "http://127.0.0.1:9/hook", "events": ["order.paid"]},
    ),
    PrivateRow("GET", "/s2s/v1/webhook-endpoints", Scope.WEBHOOKS_MANAGE, 200),
    PrivateRow(
        "DELETE", "/s2s/v1/webhook-endpoints/{id}", Scope.WEBHOOKS_MANAGE, 200, target="endpoint"
    ),
)

# Callers that are no staff session at all, or a dead one.
NOT_STAFF = ("anonymous", "customer", "api_key", "signed_out", "deactivated")


class World:
    """The shop the matrix runs in: credentials of every caller and objects to act on."""

    def __init__(self, ctx: AppContext, emulator: Emulator, public: httpx.AsyncClient) -> None:
        self.ctx = ctx
        self.emulator = emulator
        self.public = public
        self.headers: dict[str, dict[str, str]] = {}
        self.bystander_order = ""
        self.bystander_member = ""
        self.customer_id = ""
        self.endpoint_id = ""
        self._emails = 0

    async def build(self) -> None:
        ctx = self.ctx
        self.customer_id, self.headers["customer"] = await sign_up(self.public, "c@example.com")
        _, secret = ctx.api_keys.create(frozenset(Scope))
        self.headers["api_key"] = {"Authorization": f"Bearer {secret}"}
        self.headers["anonymous"] = {}
        for role in ROLES:
            member = await enrol(ctx, f"{role.value}@shop.example", role)
            self.headers[role.value] = await bearer(self.public, member)
        gone = await enrol(ctx, "signed-out@shop.example", Role.ADMIN)
        self.headers["signed_out"] = await bearer(self.public, gone)
        r = await self.public.delete(
            "/staff/v1/sessions/current", headers=self.headers["signed_out"]
        )
        assert r.status_code == 204
        fired = await enrol(ctx, "deactivated@shop.example", Role.ADMIN)
        self.headers["deactivated"] = await bearer(self.public, fired)
        r = await self.public.patch(
            f"/staff/v1/staff/{fired.member.id}",
            headers=self.headers["admin"],
            json={"active": False},
        )
        assert r.status_code == 200, r.text
        self.bystander_member = (await enrol(ctx, "bystander@shop.example", Role.VIEWER)).member.id
        self.bystander_order = await self.authorized()
        endpoint, _ = await ctx.webhook_endpoints.create("http://127.0.0.1:9/x", ["order.paid"])
        self.endpoint_id = endpoint.id

    async def authorized(self) -> str:
        return str((await pay_checkout(self.ctx, self.emulator))["order_id"])

    async def paid(self) -> str:
        pay = await pay_checkout(self.ctx, self.emulator)
        await self.ctx.operations.capture(str(pay["id"]))
        return str(pay["order_id"])

    async def target(self, kind: str, permitted: bool) -> str:
        """The path id (or body email) a cell acts on."""
        if kind == "new_email":
            self._emails += 1
            return f"new-{self._emails}@shop.example"
        if kind == "customer":
            return self.customer_id
        if kind == "endpoint":
            return self.endpoint_id
        if kind == "sku":
            return "MUG-WHITE"
        if kind == "member":
            if not permitted:
                return self.bystander_member
            return (await enrol(self.ctx, f"m{self._next()}@shop.example", Role.SUPPORT)).member.id
        if kind == "order" or not permitted:
            return self.bystander_order
        return await (self.paid() if kind == "paid" else self.authorized())

    def _next(self) -> int:
        self._emails += 1
        return self._emails


@pytest.fixture
async def world(manual: AppContext, stripe_emulator: Emulator) -> AsyncIterator[World]:
    """A manual-capture shop (orders start authorized)."""
    transport = httpx.ASGITransport(app=create_public_app(manual))
    async with httpx.AsyncClient(transport=transport, base_url="http://public.test") as public:
        w = World(manual, stripe_emulator, public)
        await w.build()
        yield w


def expected_staff(row: StaffRow, caller: str) -> int:
    if caller in NOT_STAFF:
        return 401
    role = Role(caller)
    if row.least is None or ROLES.index(role) >= ROLES.index(row.least):
        return row.success
    return 403


async def _ask(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None,
) -> httpx.Response:
    return await client.request(method, path, headers=headers, json=body)


async def test_every_staff_route_for_every_caller(world: World) -> None:
    callers = [*NOT_STAFF, *(r.value for r in ROLES)]
    wrong: list[str] = []
    for row in STAFF_TABLE:
        for caller in callers:
            want = expected_staff(row, caller)
            permitted = want not in (401, 403)
            body = dict(row.body) if row.body is not None else None
            path = row.path
            if row.target == "new_email":
                assert body is not None
                body["email"] = await world.target(row.target, permitted)
            elif "{id}" in path:
                path = path.replace("{id}", await world.target(row.target, permitted))
            r = await _ask(world.public, row.method, path, world.headers[caller], body)
            if r.status_code != want:
                wrong.append(f"{row.method} {row.path} as {caller}: {r.status_code} != {want}")
            elif want in (401, 403):
                code = {401: "unauthenticated", 403: "forbidden"}[want]
                assert r.json()["error"]["code"] == code
                assert r.json()["error"]["request_id"] == r.headers["x-request-id"]
    assert not wrong, "\n".join(wrong)
    # Nothing a refused caller asked for happened to the bystanders.
    with world.ctx.db.engine.connect() as conn:
        order = conn.execute(
            sa.text("SELECT status, fulfilled_at FROM orders WHERE id = :id"),
            {"id": world.bystander_order},
        ).one()
        member = conn.execute(
            sa.text("SELECT role, active FROM staff_members WHERE id = :id"),
            {"id": world.bystander_member},
        ).one()
    assert (order.status, order.fulfilled_at) == ("authorized", None)
    assert (member.role, bool(member.active)) == ("viewer", True)


async def test_every_private_route_for_every_caller(world: World) -> None:
    transport = httpx.ASGITransport(app=create_private_app(world.ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://private.test") as private:
        wrong: list[str] = []
        callers = ["anonymous", "customer", "signed_out", *(r.value for r in ROLES)]
        for row in PRIVATE_TABLE:
            others = frozenset(Scope) - ({row.scope} if row.scope else set())
            _, lacking = world.ctx.api_keys.create(frozenset(others))
            cells = [(c, world.headers[c], 401 if row.scope else row.success) for c in callers]
            cells.append(
                (
                    "key without the scope",
                    {"Authorization": f"Bearer {lacking}"},
                    403 if row.scope else row.success,
                )
            )
            # Last: the one caller that may act.
            cells.append(("key with every scope", world.headers["api_key"], row.success))
            for caller, headers, want in cells:
                permitted = want not in (401, 403)
                path = row.path
                if "{id}" in path:
                    path = path.replace("{id}", await world.target(row.target, permitted))
                r = await _ask(private, row.method, path, headers, row.body)
                if r.status_code != want:
                    wrong.append(f"{row.method} {row.path} as {caller}: {r.status_code} != {want}")
        assert not wrong, "\n".join(wrong)


def _table_keys(rows: tuple[StaffRow, ...] | tuple[PrivateRow, ...]) -> set[tuple[str, str]]:
    return {(r.path.replace("{id}", "{x}"), r.method) for r in rows}


def _route_keys(app: object, prefix: str) -> set[tuple[str, str]]:
    keys = set(_policies(_app_routes(app)))
    return {(re.sub(r"\{[^}]+\}", "{x}", p), m) for p, m in keys if p.startswith(prefix)}


async def test_the_tables_list_every_staff_and_private_route(manual: AppContext) -> None:
    staff = _route_keys(create_public_app(manual), "/staff/") - {(p, m) for p, m in STAFF_OPEN}
    assert staff == _table_keys(STAFF_TABLE)
    assert _route_keys(create_private_app(manual), "/") == _table_keys(PRIVATE_TABLE)
