"""The checkout endpoints over the real app and a real database (each backend)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from tests.integration.helpers import ADDRESS, checkout_body, count, counts

pytestmark = pytest.mark.anyio


async def _create(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    r = await api.post("/v1/checkouts", json=checkout_body(**overrides))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_products_list_the_demo_catalog_with_money_objects(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/products", params={"currency": "JPY"})
    assert r.status_code == 200
    body = r.json()
    assert body["has_more"] is False
    tee = next(p for p in body["data"] if p["sku"] == "TSHIRT-BLK-M")
    assert tee["price"] == {"amount": 3800, "currency": "JPY"}
    assert tee["id"].startswith("prod_") and tee["active"] is True


async def test_products_paginate_with_starting_after(api: httpx.AsyncClient) -> None:
    first = (await api.get("/v1/products", params={"limit": 2})).json()
    assert len(first["data"]) == 2 and first["has_more"] is True
    after = first["data"][-1]["id"]
    rest = (await api.get("/v1/products", params={"starting_after": after})).json()
    ids = [p["id"] for p in first["data"] + rest["data"]]
    assert len(ids) == len(set(ids)) == 5


@pytest.mark.parametrize("limit", ["0", "101", "x", "-1"])
async def test_products_limit_out_of_range_is_422(api: httpx.AsyncClient, limit: str) -> None:
    r = await api.get("/v1/products", params={"limit": limit})
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"limit": "1 to 100"}


async def test_create_prices_from_the_catalog_and_returns_a_secret(
    api: httpx.AsyncClient,
) -> None:
    body = await _create(api)
    assert body["id"].startswith("chk_") and body["status"] == "open"
    assert body["client_secret"].startswith(body["id"] + "_secret_")
    assert body["lines"][0]["unit_price"] == {"amount": 2500, "currency": "USD"}
    assert body["lines"][0]["total"] == {"amount": 5000, "currency": "USD"}
    assert body["subtotal"] == {"amount": 6200, "currency": "USD"}
    assert body["total"] == {"amount": 6200, "currency": "USD"}
    assert body["email"] == "jane.doe@example.com"
    assert body["shipping_address"] == ADDRESS


@pytest.mark.parametrize(("currency", "total"), [("JPY", 9400), ("KWD", 19100)])
async def test_totals_use_each_currency_exponent(
    api: httpx.AsyncClient, currency: str, total: int
) -> None:
    body = await _create(api, currency=currency)
    assert body["total"] == {"amount": total, "currency": currency}


async def test_a_client_price_is_refused_not_used(api: httpx.AsyncClient, ctx: AppContext) -> None:
    lines = [{"sku": "TSHIRT-BLK-M", "quantity": 1, "unit_price": {"amount": 1, "currency": "USD"}}]
    r = await api.post("/v1/checkouts", json=checkout_body(lines=lines))
    assert r.status_code == 422
    assert "lines[0].unit_price" in r.json()["error"]["fields"]
    assert count(ctx, "checkouts") == 0


async def test_get_needs_the_client_secret(api: httpx.AsyncClient) -> None:
    body = await _create(api)
    ok = await api.get(
        f"/v1/checkouts/{body['id']}", headers={"X-Checkout-Secret": body["client_secret"]}
    )
    assert ok.status_code == 200 and ok.json()["total"] == body["total"]
    assert "client_secret" not in ok.json()
    for headers in (
        {},
        {"X-Checkout-Secret": "wrong"},
        {"X-Checkout-Secret": body["client_secret"] + "x"},
    ):
        r = await api.get(f"/v1/checkouts/{body['id']}", headers=headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"


async def test_unknown_checkout_and_wrong_secret_answer_alike(api: httpx.AsyncClient) -> None:
    body = await _create(api)
    wrong = await api.get(f"/v1/checkouts/{body['id']}", headers={"X-Checkout-Secret": "nope"})
    missing = await api.get("/v1/checkouts/chk_0000", headers={"X-Checkout-Secret": "nope"})
    assert wrong.status_code == missing.status_code == 404
    assert wrong.json()["error"]["message"] == missing.json()["error"]["message"]


async def test_patch_reprices_and_replaces_contact(api: httpx.AsyncClient) -> None:
    body = await _create(api)
    headers = {"X-Checkout-Secret": body["client_secret"]}
    r = await api.patch(
        f"/v1/checkouts/{body['id']}",
        headers=headers,
        json={
            "currency": "EUR",
            "lines": [{"sku": "CAP-NAVY", "quantity": 3}],
            "email": "new@example.com",
        },
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["total"] == {"amount": 5550, "currency": "EUR"}
    assert patched["email"] == "new@example.com"
    assert patched["shipping_address"] == ADDRESS  # untouched fields stay
    again = await api.get(f"/v1/checkouts/{body['id']}", headers=headers)
    assert again.json() == patched


async def test_patch_with_only_currency_reprices_existing_lines(api: httpx.AsyncClient) -> None:
    body = await _create(api)
    r = await api.patch(
        f"/v1/checkouts/{body['id']}",
        headers={"X-Checkout-Secret": body["client_secret"]},
        json={"currency": "JPY"},
    )
    assert r.json()["total"] == {"amount": 9400, "currency": "JPY"}


async def test_patch_without_secret_is_404_and_changes_nothing(api: httpx.AsyncClient) -> None:
    body = await _create(api)
    r = await api.patch(f"/v1/checkouts/{body['id']}", json={"currency": "EUR"})
    assert r.status_code == 404
    again = await api.get(
        f"/v1/checkouts/{body['id']}", headers={"X-Checkout-Secret": body["client_secret"]}
    )
    assert again.json()["currency"] == "USD"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (checkout_body(lines=[{"sku": "NOPE", "quantity": 1}]), "lines[0].sku"),
        (checkout_body(lines=[{"sku": "MUG-WHITE", "quantity": 0}]), "lines[0].quantity"),
        (checkout_body(lines=[{"sku": "MUG-WHITE", "quantity": 1000}]), "lines[0].quantity"),
        (checkout_body(lines=[{"sku": "MUG-WHITE", "quantity": "2"}]), "lines[0].quantity"),
        (checkout_body(lines=[{"sku": "MUG-WHITE", "quantity": 2.0}]), "lines[0].quantity"),
        (checkout_body(lines=[{"sku": "MUG-WHITE", "quantity": True}]), "lines[0].quantity"),
        (checkout_body(lines=[{"sku": "MUG-WHITE", "quantity": 1}] * 101), "lines"),
        (checkout_body(lines=[]), "lines"),
        (checkout_body(currency="usd"), "currency"),
        (checkout_body(currency="XYZ"), "currency"),
        (checkout_body(currency="GBP"), "currency"),
        (checkout_body(email="not-an-email"), "email"),
        (checkout_body(shipping_address={**ADDRESS, "country": "USA"}), "shipping_address.country"),
        (checkout_body(lines="TSHIRT"), "lines"),
        ({"lines": [{"sku": "MUG-WHITE", "quantity": 1}]}, "currency"),
        (checkout_body(surprise=1), "surprise"),
    ],
)
async def test_bad_input_is_422_with_the_field_named_and_nothing_written(
    api: httpx.AsyncClient, ctx: AppContext, payload: dict[str, Any], field: str
) -> None:
    r = await api.post("/v1/checkouts", json=payload)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert field in err["fields"], err
    assert err["request_id"] == r.headers["x-request-id"]
    assert count(ctx, "checkouts") == 0


@pytest.mark.parametrize(
    "raw", [b"{", b"[1,2]", b"", b"null", b'{"currency": NaN}', b"\xff\xfe", b'"text"']
)
async def test_malformed_json_is_422_and_nothing_written(
    api: httpx.AsyncClient, ctx: AppContext, raw: bytes
) -> None:
    r = await api.post("/v1/checkouts", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"
    assert count(ctx, "checkouts") == 0


async def test_deeply_nested_json_is_refused(api: httpx.AsyncClient) -> None:
    nested: Any = "x"
    for _ in range(200):
        nested = {"a": nested}
    r = await api.post("/v1/checkouts", json=checkout_body(extra=nested))
    assert r.status_code == 422


async def test_body_over_64_kib_is_413(api: httpx.AsyncClient, ctx: AppContext) -> None:
    big = json.dumps(checkout_body(note="x" * (65 * 1024))).encode()
    r = await api.post("/v1/checkouts", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert count(ctx, "checkouts") == 0


async def test_chunked_body_over_64_kib_is_413(api: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(70):
            yield b" " * 1024

    r = await api.post(
        "/v1/checkouts", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413


async def test_personal_data_is_encrypted_at_rest(api: httpx.AsyncClient, ctx: AppContext) -> None:
    body = await _create(api)
    with ctx.db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT email_enc, shipping_address_enc, secret_hash FROM checkouts WHERE id = :id"
            ),
            {"id": body["id"]},
        ).one()
    assert b"jane.doe" not in bytes(row[0]) and b"Main St" not in bytes(row[1])
    assert body["client_secret"] not in row[2]
    assert counts(ctx)["checkouts"] == 1


async def test_patch_with_null_clears_only_that_field(api: httpx.AsyncClient) -> None:
    body = await _create(api)
    r = await api.patch(
        f"/v1/checkouts/{body['id']}",
        headers={"X-Checkout-Secret": body["client_secret"]},
        json={"email": None},
    )
    assert r.status_code == 200
    assert r.json()["email"] is None and r.json()["shipping_address"] == ADDRESS


async def test_products_with_an_unknown_currency_is_422(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/products", params={"currency": "XXQ"})
    assert r.status_code == 422
    assert "currency" in r.json()["error"]["fields"]


async def test_a_barcode_sku_is_not_mistaken_for_a_card(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    # A valid EAN-13 that also passes Luhn and starts like a Visa number.
    ctx.catalog.upsert_sync(sku="4039621723216", name="Pen", active=True, prices={"USD": 250})
    r = await api.post(
        "/v1/checkouts", json=checkout_body(lines=[{"sku": "4039621723216", "quantity": 4}])
    )
    assert r.status_code == 201, r.text
    assert r.json()["total"] == {"amount": 1000, "currency": "USD"}


async def test_checkouts_created_together_are_each_stored_and_a_bad_cart_fails_alone(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    """Creations arriving together share a transaction (group commit): each good one is
    answered 201 only once stored, and an unpriceable cart among them is a 422 for its
    own caller while the others in its group are kept."""
    import asyncio

    bodies = [
        checkout_body(email=f"group{i}@example.com")
        if i % 5
        else checkout_body(lines=[{"sku": "NO-SUCH-SKU", "quantity": 1}])
        for i in range(20)
    ]
    commits: list[object] = []

    def counted(conn: object) -> None:
        commits.append(conn)

    sa.event.listen(ctx.db.writer, "commit", counted)
    try:
        answers = await asyncio.gather(*(api.post("/v1/checkouts", json=b) for b in bodies))
    finally:
        sa.event.remove(ctx.db.writer, "commit", counted)
    assert len(commits) < 20  # they were grouped, or this test proves nothing
    made = [r.json() for r in answers if r.status_code == 201]
    refused = [r for r in answers if r.status_code == 422]
    assert len(made) == 16 and len(refused) == 4
    assert all(set(r.json()["error"]["fields"]) == {"lines[0].sku"} for r in refused)
    assert count(ctx, "checkouts") == 16
    for chk in made:
        got = await api.get(
            f"/v1/checkouts/{chk['id']}", headers={"X-Checkout-Secret": chk["client_secret"]}
        )
        assert got.status_code == 200 and got.json()["email"] == chk["email"]
