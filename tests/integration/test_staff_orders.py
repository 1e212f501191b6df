"""Staff order management over the public app on both backends: what each role sees,
capture, refunds within support's limit, cancel (void or refund), fulfillments, the
idempotency of each change, and the audit of every change and every unmasked read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.access.roles import Role
from checkout.context import AppContext, build_context
from checkout.db.tables import AuditEventRow
from checkout.seed import seed_demo_catalog
from checkout.web.factory import create_public_app
from tests.conftest import Emulator, make_settings
from tests.integration.helpers import ADDRESS, pay_checkout
from tests.integration.test_s2s_orders import seed_orders
from tests.integration.test_staff_api import bearer, enrol

pytestmark = pytest.mark.anyio

_AUDIT: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]
SUPPORT_LIMIT = 1000  # USD minor units, set for these tests


@pytest.fixture
async def shop(db_url: str, tmp_path: Path, stripe_emulator: Emulator) -> AsyncIterator[AppContext]:
    """Payments are authorized (captured later by staff); support refunds up to 10.00 USD."""
    settings = make_settings(
        db_url,
        tmp_path / "shop",
        stripe_emulator.base_url,
        CHECKOUT_CAPTURE_MODE="manual",
        CHECKOUT_SUPPORT_REFUND_LIMIT=f"USD:{SUPPORT_LIMIT},EUR:5000",
    )
    context = build_context(settings)
    seed_demo_catalog(context.catalog)
    try:
        yield context
    finally:
        await context.aclose()


@pytest.fixture
async def api(shop: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_public_app(shop))
    async with httpx.AsyncClient(transport=transport, base_url="http://public.test") as client:
        yield client


async def staff(api: httpx.AsyncClient, shop: AppContext, role: Role) -> dict[str, str]:
    member = await enrol(shop, f"{role.value}@shop.example", role)
    return await bearer(api, member)


def audit_rows(shop: AppContext, action: str) -> list[Any]:
    with shop.db.engine.connect() as conn:
        q = sa.select(_AUDIT).where(_AUDIT.c.action == action).order_by(_AUDIT.c.id)
        return list(conn.execute(q))


def order_status(shop: AppContext, order_id: str) -> str:
    with shop.db.engine.connect() as conn:
        q = sa.text("SELECT status FROM orders WHERE id = :id")
        return str(conn.execute(q, {"id": order_id}).scalar_one())


def member_id(shop: AppContext, role: Role) -> str:
    with shop.db.engine.connect() as conn:
        q = sa.text("SELECT id FROM staff_members WHERE role = :r")
        return str(conn.execute(q, {"r": role.value}).scalar_one())


@pytest.fixture
async def manager(api: httpx.AsyncClient, shop: AppContext) -> dict[str, str]:
    return await staff(api, shop, Role.MANAGER)


async def paid_order(
    api: httpx.AsyncClient, shop: AppContext, emulator: Emulator, manager: dict[str, str]
) -> str:
    """A 62.00 USD order, captured by a manager."""
    order_id = str((await pay_checkout(shop, emulator))["order_id"])
    r = await api.post(f"/staff/v1/orders/{order_id}/capture", headers=manager, json={})
    assert r.status_code == 200, r.text
    return order_id


async def test_a_viewer_sees_masked_data_and_fulfillment_and_up_the_shipping_address(
    api: httpx.AsyncClient, shop: AppContext, stripe_emulator: Emulator
) -> None:
    order_id = (await pay_checkout(shop, stripe_emulator))["order_id"]
    seen: dict[Role, dict[str, Any]] = {}
    for role in Role:
        auth = await staff(api, shop, role)
        r = await api.get(f"/staff/v1/orders/{order_id}", headers=auth)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        seen[role] = r.json()
        listed = await api.get("/staff/v1/orders", headers=auth)
        assert listed.json()["data"] == [seen[role]]
    viewer = seen[Role.VIEWER]
    assert viewer["email"] == "j***@example.com"
    assert viewer["shipping_address"] == {
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    }
    assert viewer["total"] == {"amount": 6200, "currency": "USD"}
    for role in (Role.FULFILLMENT, Role.SUPPORT, Role.MANAGER, Role.ADMIN):
        assert seen[role]["shipping_address"] == ADDRESS, role
        # No role in API.md's table is given the customer's contact details.
        assert seen[role]["email"] == "j***@example.com", role
    assert "jane.doe" not in repr(seen)


async def test_every_staff_read_of_personal_data_is_audited_without_values(
    api: httpx.AsyncClient, shop: AppContext, stripe_emulator: Emulator
) -> None:
    order_id = (await pay_checkout(shop, stripe_emulator))["order_id"]
    auth = await staff(api, shop, Role.FULFILLMENT)
    one = await api.get(
        f"/staff/v1/orders/{order_id}", headers={**auth, "X-Request-Id": "req-read-1"}
    )
    listed = await api.get("/staff/v1/orders?q=jane.doe@example.com", headers=auth)
    empty = await api.get("/staff/v1/orders?q=nobody@example.com", headers=auth)
    assert one.status_code == listed.status_code == empty.status_code == 200
    rows = audit_rows(shop, "order.pii_read")
    assert len(rows) == 2  # the empty answer showed nothing
    single = next(r for r in rows if r.request_id == "req-read-1")
    assert single.actor_type == "staff"
    assert single.actor_id == member_id(shop, Role.FULFILLMENT)
    assert (single.target_type, single.target_id) == ("order", order_id)
    assert single.details["disclosure"] == "fulfillment"
    text = repr([tuple(r) for r in rows])
    assert "jane" not in text and "Main St" not in text and "Springfield" not in text


async def test_the_list_pages_and_filters_like_the_integration_list(
    api: httpx.AsyncClient, shop: AppContext
) -> None:
    emails = seed_orders(shop, 30)
    auth = await staff(api, shop, Role.VIEWER)
    seen: list[dict[str, Any]] = []
    after = ""
    while True:
        r = await api.get(f"/staff/v1/orders?limit=7{after}", headers=auth)
        assert r.status_code == 200, r.text
        seen += r.json()["data"]
        if not r.json()["has_more"]:
            break
        after = f"&starting_after={seen[-1]['id']}"
    assert len({o["id"] for o in seen}) == 30
    assert [o["created"] for o in seen] == sorted((o["created"] for o in seen), reverse=True)
    paid = (await api.get("/staff/v1/orders?status=paid&limit=100", headers=auth)).json()
    assert paid["data"] and all(o["status"] == "paid" for o in paid["data"])
    mid = sorted(o["created"] for o in seen)[15]
    newer = (await api.get(f"/staff/v1/orders?created[gte]={mid}&limit=100", headers=auth)).json()
    older = (await api.get(f"/staff/v1/orders?created[lt]={mid}&limit=100", headers=auth)).json()
    assert len(newer["data"]) + len(older["data"]) == 30
    found = (await api.get("/staff/v1/orders", params={"q": emails[0]}, headers=auth)).json()
    assert found["data"] and all(
        o["email"].endswith(emails[0].split("@")[1]) for o in found["data"]
    )
    by_id = (await api.get("/staff/v1/orders", params={"q": seen[3]["id"]}, headers=auth)).json()
    assert [o["id"] for o in by_id["data"]] == [seen[3]["id"]]
    for bad, field in (
        ("status=shipped", "status"),
        ("limit=0", "limit"),
        ("created[lt]=x", "created[lt]"),
    ):
        r = await api.get(f"/staff/v1/orders?{bad}", headers=auth)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], bad


async def test_an_unknown_order_is_404_on_every_order_route(
    api: httpx.AsyncClient, shop: AppContext
) -> None:
    auth = await staff(api, shop, Role.ADMIN)
    base = "/staff/v1/orders/ord_doesnotexist"
    answers = [
        await api.get(base, headers=auth),
        await api.post(base + "/capture", headers=auth, json={}),
        await api.post(base + "/refunds", headers=auth, json={"amount": 100, "reason": "x"}),
        await api.post(base + "/cancel", headers=auth),
        await api.post(
            base + "/fulfillments", headers=auth, json={"carrier": "UPS", "tracking_number": "1Z"}
        ),
    ]
    assert [r.status_code for r in answers] == [404] * 5, [r.text for r in answers]
    assert {r.json()["error"]["code"] for r in answers} == {"not_found"}


async def test_a_manager_captures_an_authorized_order_once_and_it_is_audited(
    api: httpx.AsyncClient, shop: AppContext, stripe_emulator: Emulator
) -> None:
    order_id = (await pay_checkout(shop, stripe_emulator))["order_id"]
    auth = await staff(api, shop, Role.MANAGER)
    r = await api.post(
        f"/staff/v1/orders/{order_id}/capture",
        headers={**auth, "X-Request-Id": "req-capture-1"},
        json={"amount": 5000},
    )
    assert r.status_code == 200, r.text
    order = r.json()
    assert order["status"] == "paid"
    assert order["payments"][0]["amount_captured"] == {"amount": 5000, "currency": "USD"}
    again = await api.post(f"/staff/v1/orders/{order_id}/capture", headers=auth, json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    [row] = audit_rows(shop, "payment.captured")
    assert (row.actor_type, row.actor_id) == ("staff", member_id(shop, Role.MANAGER))
    assert (row.target_type, row.target_id, row.request_id) == ("order", order_id, "req-capture-1")
    assert row.details["amount"] == 5000 and row.details["currency"] == "USD"
    bad = await api.post(f"/staff/v1/orders/{order_id}/capture", headers=auth, json={"amount": "5"})
    assert bad.status_code == 422


async def test_support_refunds_up_to_the_configured_limit_and_a_manager_beyond_it(
    api: httpx.AsyncClient,
    shop: AppContext,
    stripe_emulator: Emulator,
    manager: dict[str, str],
) -> None:
    order_id = await paid_order(api, shop, stripe_emulator, manager)
    support = await staff(api, shop, Role.SUPPORT)
    path = f"/staff/v1/orders/{order_id}/refunds"
    ok = await api.post(path, headers=support, json={"amount": SUPPORT_LIMIT, "reason": "damaged"})
    assert ok.status_code == 201, ok.text
    refund = ok.json()
    assert refund["id"].startswith("re_") and refund["object"] == "refund"
    assert refund["amount"] == {"amount": SUPPORT_LIMIT, "currency": "USD"}
    assert refund["status"] == "succeeded" and refund["order_id"] == order_id
    over = await api.post(
        path, headers=support, json={"amount": SUPPORT_LIMIT + 1, "reason": "damaged"}
    )
    assert over.status_code == 403
    err = over.json()["error"]
    assert (
        err["code"] == "forbidden" and "10.00 USD" in err["message"] and "manager" in err["message"]
    )
    big = await api.post(path, headers=manager, json={"amount": 5000, "reason": "returned"})
    assert big.status_code == 201, big.text
    # Past what is left to give back: a conflict for anyone; nonsense amounts are 422.
    rest = await api.post(path, headers=manager, json={"amount": 201, "reason": "x"})
    assert rest.status_code == 409
    for body in ({"amount": 0, "reason": "x"}, {"amount": 10}, {"amount": 1.5, "reason": "x"}):
        assert (await api.post(path, headers=manager, json=body)).status_code == 422, body
    assert order_status(shop, order_id) == "partially_refunded"
    rows = audit_rows(shop, "payment.refunded")
    assert [r.details["amount"] for r in rows] == [SUPPORT_LIMIT, 5000]
    assert [r.actor_id for r in rows] == [
        member_id(shop, Role.SUPPORT),
        member_id(shop, Role.MANAGER),
    ]
    assert "damaged" not in repr([tuple(r) for r in rows])


async def test_support_voids_an_unpaid_order_but_may_not_cancel_a_paid_one(
    api: httpx.AsyncClient,
    shop: AppContext,
    stripe_emulator: Emulator,
    manager: dict[str, str],
) -> None:
    unpaid = (await pay_checkout(shop, stripe_emulator))["order_id"]
    paid = await paid_order(api, shop, stripe_emulator, manager)
    support = await staff(api, shop, Role.SUPPORT)
    r = await api.post(f"/staff/v1/orders/{unpaid}/cancel", headers=support)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "canceled"
    assert r.json()["payments"][0]["status"] == "voided"
    again = await api.post(f"/staff/v1/orders/{unpaid}/cancel", headers=support, json={})
    assert again.status_code == 409
    refused = await api.post(f"/staff/v1/orders/{paid}/cancel", headers=support)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert order_status(shop, paid) == "paid"
    [voided] = audit_rows(shop, "payment.voided")
    [canceled] = audit_rows(shop, "order.canceled")
    assert voided.target_id == canceled.target_id == unpaid
    assert canceled.details["method"] == "void"
    assert canceled.actor_id == member_id(shop, Role.SUPPORT)


async def test_a_manager_cancels_a_paid_order_by_refunding_what_is_left(
    api: httpx.AsyncClient,
    shop: AppContext,
    stripe_emulator: Emulator,
    manager: dict[str, str],
) -> None:
    order_id = await paid_order(api, shop, stripe_emulator, manager)
    part = await api.post(
        f"/staff/v1/orders/{order_id}/refunds", headers=manager, json={"amount": 200, "reason": "x"}
    )
    assert part.status_code == 201
    r = await api.post(f"/staff/v1/orders/{order_id}/cancel", headers=manager)
    assert r.status_code == 200, r.text
    order = r.json()
    assert order["status"] == "canceled"
    assert order["payments"][0]["status"] == "refunded"
    assert order["payments"][0]["amount_refunded"] == {"amount": 6200, "currency": "USD"}
    [canceled] = audit_rows(shop, "order.canceled")
    assert canceled.details["method"] == "refund"
    assert [r.details["amount"] for r in audit_rows(shop, "payment.refunded")] == [200, 6000]
    with shop.db.engine.connect() as conn:
        types = conn.execute(sa.text("SELECT type FROM outbox_events")).scalars().all()
    assert sorted(types) == sorted(
        ["order.created", "order.paid", "order.refunded", "order.refunded", "order.canceled"]
    )
    assert (
        await api.post(f"/staff/v1/orders/{order_id}/cancel", headers=manager)
    ).status_code == 409


async def test_fulfillment_staff_ship_an_order_and_it_is_audited(
    api: httpx.AsyncClient, shop: AppContext, stripe_emulator: Emulator
) -> None:
    order_id = (await pay_checkout(shop, stripe_emulator))["order_id"]
    auth = await staff(api, shop, Role.FULFILLMENT)
    path = f"/staff/v1/orders/{order_id}/fulfillments"
    r = await api.post(path, headers=auth, json={"carrier": "UPS", "tracking_number": "1Z999"})
    assert r.status_code == 201, r.text
    assert r.json()["object"] == "fulfillment" and r.json()["order_id"] == order_id
    order = (await api.get(f"/staff/v1/orders/{order_id}", headers=auth)).json()
    assert [f["tracking_number"] for f in order["fulfillments"]] == ["1Z999"]
    [row] = audit_rows(shop, "order.fulfilled")
    assert row.actor_id == member_id(shop, Role.FULFILLMENT)
    assert row.details == {"fulfillment_id": r.json()["id"], "carrier": "UPS"}
    bad = await api.post(path, headers=auth, json={"carrier": "\x01", "tracking_number": "1"})
    assert bad.status_code == 422 and "carrier" in bad.json()["error"]["fields"]
    # A canceled order does not ship.
    gone = (await pay_checkout(shop, stripe_emulator))["order_id"]
    manager = await staff(api, shop, Role.MANAGER)
    assert (await api.post(f"/staff/v1/orders/{gone}/cancel", headers=manager)).status_code == 200
    late = await api.post(
        f"/staff/v1/orders/{gone}/fulfillments",
        headers=auth,
        json={"carrier": "UPS", "tracking_number": "1Z1"},
    )
    assert late.status_code == 409


async def test_a_refund_retried_with_its_key_from_a_new_session_happens_once(
    api: httpx.AsyncClient,
    shop: AppContext,
    stripe_emulator: Emulator,
    manager: dict[str, str],
) -> None:
    order_id = await paid_order(api, shop, stripe_emulator, manager)
    member = await enrol(shop, "desk@shop.example", Role.SUPPORT)
    first_session = await bearer(api, member)
    second_session = await bearer(api, member, offset=1)
    path = f"/staff/v1/orders/{order_id}/refunds"
    body = {"amount": 300, "reason": "late delivery"}
    first = await api.post(path, headers={**first_session, "Idempotency-Key": "r-1"}, json=body)
    replay = await api.post(path, headers={**second_session, "Idempotency-Key": "r-1"}, json=body)
    assert first.status_code == replay.status_code == 201
    assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
    other = await api.post(
        path, headers={**first_session, "Idempotency-Key": "r-1"}, json={**body, "amount": 301}
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    # Another member's same key is theirs alone: a second refund.
    theirs = await api.post(path, headers={**manager, "Idempotency-Key": "r-1"}, json=body)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert len(audit_rows(shop, "payment.refunded")) == 2
