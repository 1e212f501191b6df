"""The private order list and order reads: keyset pages, filters, what each scope sees,
and the audit of every read of personal data (real SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bench.seed_orders import seed
from checkout.access.scopes import Scope
from checkout.context import AppContext, build_blind_index
from checkout.db.explain import explain
from checkout.db.tables import AuditEventRow
from checkout.store.order_listing import Cursor, OrderFilter, page_query
from tests.conftest import Emulator
from tests.integration.helpers import ADDRESS, pay_checkout

pytestmark = pytest.mark.anyio

_AUDIT: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]


def key(ctx: AppContext, *scopes: Scope) -> dict[str, str]:
    _, secret = ctx.api_keys.create(frozenset(scopes))
    return {"Authorization": f"Bearer {secret}"}


def seed_orders(ctx: AppContext, count: int, emails: int = 5) -> list[str]:
    done = seed(ctx.db.writer, ctx.cipher, build_blind_index(ctx.settings), count, emails=emails)
    return done.emails


def audit_rows(ctx: AppContext, action: str) -> list[Any]:
    with ctx.db.engine.connect() as conn:
        return list(conn.execute(sa.select(_AUDIT).where(_AUDIT.c.action == action)))


async def walk(api: httpx.AsyncClient, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    after = ""
    while True:
        r = await api.get(f"/s2s/v1/orders?limit=7{query}{after}", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += body["data"]
        if not body["has_more"]:
            return seen
        after = f"&starting_after={body['data'][-1]['id']}"


async def test_pages_walk_every_order_newest_first_once(
    ctx: AppContext, private_api: httpx.AsyncClient
) -> None:
    seed_orders(ctx, 40)
    seen = await walk(private_api, key(ctx, Scope.ORDERS_READ), "")
    ids = [o["id"] for o in seen]
    assert len(ids) == 40 == len(set(ids))
    assert [o["created"] for o in seen] == sorted((o["created"] for o in seen), reverse=True)


async def test_status_and_created_range_filters(
    ctx: AppContext, private_api: httpx.AsyncClient
) -> None:
    seed_orders(ctx, 60)
    headers = key(ctx, Scope.ORDERS_READ)
    paid = await walk(private_api, headers, "&status=paid")
    assert paid and all(o["status"] == "paid" for o in paid)
    everything = await walk(private_api, headers, "")
    assert len(paid) == sum(o["status"] == "paid" for o in everything)
    mid = sorted(o["created"] for o in everything)[30]
    newer = await walk(private_api, headers, f"&created[gte]={mid}")
    older = await walk(private_api, headers, f"&created[lt]={mid}")
    assert all(o["created"] >= mid for o in newer) and all(o["created"] < mid for o in older)
    assert len(newer) + len(older) == 60


async def test_q_finds_an_order_by_exact_email_or_id_through_the_blind_index(
    ctx: AppContext, private_api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    seed_orders(ctx, 20)
    paid = await pay_checkout(ctx, stripe_emulator)
    headers = key(ctx, Scope.ORDERS_READ)
    for q in ("JANE.DOE@example.com ", paid["order_id"]):
        r = await private_api.get("/s2s/v1/orders", params={"q": q}, headers=headers)
        assert [o["id"] for o in r.json()["data"]] == [paid["order_id"]], q
    for q in ("jane", "jane.doe@example.co", "ord_nope"):
        r = await private_api.get("/s2s/v1/orders", params={"q": q}, headers=headers)
        assert r.status_code == 200 and r.json() == {
            "object": "list",
            "data": [],
            "has_more": False,
        }, q


async def test_orders_read_sees_the_shipping_address_but_not_the_email(
    ctx: AppContext, private_api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    paid = await pay_checkout(ctx, stripe_emulator)
    r = await private_api.get(
        f"/s2s/v1/orders/{paid['order_id']}", headers=key(ctx, Scope.ORDERS_READ)
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    order = r.json()
    assert order["email"] == "j***@example.com"
    assert order["shipping_address"] == ADDRESS
    assert "jane.doe" not in r.text
    both = await private_api.get(
        f"/s2s/v1/orders/{paid['order_id']}",
        headers=key(ctx, Scope.ORDERS_READ, Scope.CUSTOMERS_READ),
    )
    assert both.json()["email"] == "jane.doe@example.com"


async def test_an_order_carries_lines_money_payments_and_fulfillments(
    ctx: AppContext, private_api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    paid = await pay_checkout(ctx, stripe_emulator)
    order_id = paid["order_id"]
    shipped = await private_api.post(
        f"/s2s/v1/orders/{order_id}/fulfillments",
        json={"carrier": "UPS", "tracking_number": "1Z999"},
        headers=key(ctx, Scope.ORDERS_FULFILL),
    )
    assert shipped.status_code == 201, shipped.text
    order = (
        await private_api.get(f"/s2s/v1/orders/{order_id}", headers=key(ctx, Scope.ORDERS_READ))
    ).json()
    assert order["status"] == "paid"
    assert order["total"] == {"amount": 6200, "currency": "USD"}
    assert [ln["sku"] for ln in order["lines"]] == ["TSHIRT-BLK-M", "MUG-WHITE"]
    assert order["lines"][0]["unit_price"]["currency"] == "USD"
    [payment] = order["payments"]
    assert payment["id"] == paid["id"] and payment["status"] == "captured"
    assert payment["amount_captured"] == {"amount": 6200, "currency": "USD"}
    assert [f["tracking_number"] for f in order["fulfillments"]] == ["1Z999"]
    assert order["fulfilled"] is not None


async def test_every_personal_read_is_audited_once_per_request_without_values(
    ctx: AppContext, private_api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    paid = await pay_checkout(ctx, stripe_emulator)
    seed_orders(ctx, 5)
    key_obj, secret = ctx.api_keys.create(frozenset({Scope.ORDERS_READ}))
    headers = {"Authorization": f"Bearer {secret}"}
    listed = await private_api.get("/s2s/v1/orders", headers=headers)
    one = await private_api.get(f"/s2s/v1/orders/{paid['order_id']}", headers=headers)
    empty = await private_api.get("/s2s/v1/orders?q=nobody@example.com", headers=headers)
    assert empty.json()["data"] == []
    rows = audit_rows(ctx, "order.pii_read")
    assert len(rows) == 2  # nothing shown, nothing to record
    by_request = {r.request_id: r for r in rows}
    lst = by_request[listed.headers["x-request-id"]]
    assert lst.actor_type == "api_key" and lst.actor_id == key_obj.id
    assert lst.details["count"] == 6
    assert set(lst.details["order_ids"]) == {o["id"] for o in listed.json()["data"]}
    single = by_request[one.headers["x-request-id"]]
    assert single.target_type == "order" and single.target_id == paid["order_id"]
    text = repr([tuple(r) for r in rows])
    assert "@" not in text and "Main St" not in text and "Springfield" not in text


async def test_scopes_and_keys_are_enforced(
    ctx: AppContext, private_api: httpx.AsyncClient
) -> None:
    assert (await private_api.get("/s2s/v1/orders")).status_code == 401
    wrong = key(ctx, Scope.WEBHOOKS_MANAGE, Scope.ORDERS_FULFILL, Scope.CATALOG_WRITE)
    r = await private_api.get("/s2s/v1/orders", headers=wrong)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await private_api.get("/s2s/v1/customers/cus_x", headers=key(ctx, Scope.ORDERS_READ))
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("status=shipped", "status"),
        ("created[gte]=yesterday", "created[gte]"),
        ("created[lt]=-5", "created[lt]"),
        ("starting_after=ord_missing", "starting_after"),
        ("q=" + "a" * 321, "q"),
    ],
)
async def test_bad_list_parameters_are_422_naming_the_field(
    ctx: AppContext, private_api: httpx.AsyncClient, query: str, field: str
) -> None:
    r = await private_api.get(f"/s2s/v1/orders?{query}", headers=key(ctx, Scope.ORDERS_READ))
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error" and field in err["fields"]
    assert err["request_id"] == r.headers["x-request-id"]


async def test_an_unknown_order_is_404(ctx: AppContext, private_api: httpx.AsyncClient) -> None:
    r = await private_api.get("/s2s/v1/orders/ord_nope", headers=key(ctx, Scope.ORDERS_READ))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_each_list_query_walks_an_index_in_order_without_sorting(
    ctx: AppContext,
) -> None:
    """The planner's own choice at a million rows is shown by the bench (bench/orders.py,
    docs/BENCHMARKS.md); here, on a small table, sequential scans and bitmap scans are
    switched off on PostgreSQL to prove each filter has an index that also gives the
    order, so no plan needs a sort or a full scan."""
    emails = seed_orders(ctx, 300, emails=10)
    digest = build_blind_index(ctx.settings).email(emails[3])
    with ctx.db.engine.connect() as conn:
        some = conn.execute(sa.text("SELECT created_at, id FROM orders LIMIT 1")).one()
        cursor = Cursor(some.created_at, some.id)
        since = datetime.now(UTC) - timedelta(days=90)
        cases = {
            "ix_orders_created_at_id": [
                OrderFilter(),
                OrderFilter(created_gte=since),
            ],
            "ix_orders_status_created_at_id": [OrderFilter(status="authorized")],
            "ix_orders_email_index_created_at_id": [OrderFilter(email_index=digest)],
        }
        if ctx.db.is_postgres:
            conn.execute(sa.text("SET enable_seqscan = off"))
            conn.execute(sa.text("SET enable_bitmapscan = off"))
        for index, filters in cases.items():
            for flt in filters:
                for cur in (None, cursor):
                    plan = "\n".join(explain(conn, page_query(flt, cur, 20)))
                    assert index in plan, (flt, plan)
                    # SQLite's "SCAN orders USING INDEX" is a walk of the index in order
                    # up to the LIMIT; a bare "SCAN orders" would read the table.
                    assert "Seq Scan" not in plan and not re.search(r"SCAN orders$", plan, re.M)
                    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
        conn.rollback()
