"""``GET /s2s/v1/customers/{id}`` (customers:read, audited) and ``PUT
/s2s/v1/products/{sku}`` (catalog:write, idempotent, audited), on real databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.access.scopes import Scope
from checkout.context import AppContext
from checkout.db.tables import AuditEventRow
from tests.integration.helpers import sign_up

pytestmark = pytest.mark.anyio

_AUDIT: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]


def key(ctx: AppContext, *scopes: Scope) -> tuple[str, dict[str, str]]:
    api_key, secret = ctx.api_keys.create(frozenset(scopes))
    return api_key.id, {"Authorization": f"Bearer {secret}"}


def audit_rows(ctx: AppContext, action: str) -> list[Any]:
    with ctx.db.engine.connect() as conn:
        return list(conn.execute(sa.select(_AUDIT).where(_AUDIT.c.action == action)))


async def test_a_customer_record_is_read_in_the_clear_and_the_read_audited(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    customer_id, _ = await sign_up(api, "reader.target@example.com")
    key_id, headers = key(ctx, Scope.CUSTOMERS_READ)
    r = await private_api.get(f"/s2s/v1/customers/{customer_id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "reader.target@example.com"
    assert r.headers["cache-control"] == "no-store"
    [row] = audit_rows(ctx, "customer.pii_read")
    assert (row.actor_type, row.actor_id, row.target_id) == ("api_key", key_id, customer_id)
    assert row.request_id == r.headers["x-request-id"]
    assert "reader.target" not in repr(tuple(row))


async def test_an_unknown_customer_is_404_and_not_audited(
    ctx: AppContext, private_api: httpx.AsyncClient
) -> None:
    _, headers = key(ctx, Scope.CUSTOMERS_READ)
    r = await private_api.get("/s2s/v1/customers/cus_nope", headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert audit_rows(ctx, "customer.pii_read") == []


async def test_customers_need_customers_read(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    customer_id, _ = await sign_up(api, "guarded@example.com")
    _, headers = key(ctx, Scope.ORDERS_READ, Scope.ORDERS_FULFILL, Scope.CATALOG_WRITE)
    r = await private_api.get(f"/s2s/v1/customers/{customer_id}", headers=headers)
    assert r.status_code == 403 and "guarded" not in r.text


PRODUCT = {"name": "Scarf, red", "price": {"amount": 1999, "currency": "EUR"}, "active": True}


async def test_put_creates_then_updates_a_product_and_the_storefront_sees_it(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    key_id, headers = key(ctx, Scope.CATALOG_WRITE)
    first = await private_api.put("/s2s/v1/products/SCARF-RED", json=PRODUCT, headers=headers)
    assert first.status_code == 201, first.text
    product = first.json()
    assert product["sku"] == "SCARF-RED" and product["price"] == PRODUCT["price"]
    again = await private_api.put("/s2s/v1/products/SCARF-RED", json=PRODUCT, headers=headers)
    assert again.status_code == 200 and again.json() == product
    cheaper = {**PRODUCT, "price": {"amount": 1499, "currency": "EUR"}, "name": "Scarf"}
    changed = await private_api.put("/s2s/v1/products/SCARF-RED", json=cheaper, headers=headers)
    assert changed.json()["price"]["amount"] == 1499 and changed.json()["id"] == product["id"]
    listed = (await api.get("/v1/products?currency=EUR&limit=100")).json()["data"]
    assert any(p["sku"] == "SCARF-RED" and p["name"] == "Scarf" for p in listed)
    actions = [r.action for r in audit_rows(ctx, "product.created")] + [
        r.action for r in audit_rows(ctx, "product.updated")
    ]
    assert actions == ["product.created", "product.updated", "product.updated"]
    assert {r.actor_id for r in audit_rows(ctx, "product.updated")} == {key_id}


async def test_put_with_an_idempotency_key_replays_the_first_answer(
    ctx: AppContext, private_api: httpx.AsyncClient
) -> None:
    _, headers = key(ctx, Scope.CATALOG_WRITE)
    headers["Idempotency-Key"] = "put-scarf-1"
    first = await private_api.put("/s2s/v1/products/SCARF-IDEM", json=PRODUCT, headers=headers)
    replay = await private_api.put("/s2s/v1/products/SCARF-IDEM", json=PRODUCT, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
    other = {**PRODUCT, "active": False}
    clash = await private_api.put("/s2s/v1/products/SCARF-IDEM", json=other, headers=headers)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "idempotency_conflict"


@pytest.mark.parametrize(
    ("sku", "body", "field"),
    [
        ("SCARF", {**PRODUCT, "price": {"amount": -1, "currency": "EUR"}}, "price.amount"),
        ("SCARF", {**PRODUCT, "price": {"amount": "19.99", "currency": "EUR"}}, "price.amount"),
        ("SCARF", {**PRODUCT, "price": {"amount": 100, "currency": "XYZ"}}, "price.currency"),
        ("SCARF", {**PRODUCT, "name": ""}, "name"),
        ("SCARF", {"name": "x", "price": PRODUCT["price"]}, "active"),
        ("SCARF", {**PRODUCT, "colour": "red"}, "colour"),
        ("bad sku!", PRODUCT, "sku"),
    ],
)
async def test_an_invalid_product_is_422_naming_the_field(
    ctx: AppContext, private_api: httpx.AsyncClient, sku: str, body: Any, field: str
) -> None:
    _, headers = key(ctx, Scope.CATALOG_WRITE)
    r = await private_api.put(f"/s2s/v1/products/{sku}", json=body, headers=headers)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error" and field in err["fields"], err
    assert audit_rows(ctx, "product.created") == []


async def test_products_need_catalog_write(ctx: AppContext, private_api: httpx.AsyncClient) -> None:
    r = await private_api.put("/s2s/v1/products/SCARF", json=PRODUCT)
    assert r.status_code == 401
    _, headers = key(ctx, Scope.ORDERS_READ, Scope.CUSTOMERS_READ)
    r = await private_api.put("/s2s/v1/products/SCARF", json=PRODUCT, headers=headers)
    assert r.status_code == 403
