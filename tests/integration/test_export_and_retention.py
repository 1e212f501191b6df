"""GET /v1/me/export (everything held about the customer, theirs alone), IDOR across two
customers, and retention of order contact data (backdated rows), on each backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from tests.conftest import Emulator
from tests.integration.helpers import ADDRESS, checkout_body, pay_checkout, sign_up
from tests.integration.test_saved_methods_api import save_card

pytestmark = pytest.mark.anyio


async def test_export_holds_everything_about_me_and_nothing_of_others(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    ann_id, ann = await sign_up(api, "ann.export@example.com")
    bob_id, bob = await sign_up(api, "bob.export@example.com")
    await api.patch("/v1/me", headers=ann, json={"name": "Ann", "addresses": [ADDRESS]})
    method = await save_card(api, stripe_emulator, ann)
    bob_method = await save_card(api, stripe_emulator, bob)
    r = await api.get("/v1/me/export", headers=ann)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    data = r.json()
    assert data["customer"]["id"] == ann_id and data["customer"]["name"] == "Ann"
    assert data["customer"]["addresses"] == [ADDRESS]
    assert data["verification"]["email_verified"] is False and data["consents"] == []
    assert len(data["orders"]) == 1 and data["orders"][0]["lines"]
    assert data["orders"][0]["email"] == "jane.doe@example.com"
    assert len(data["checkouts"]) == 1 and data["payments"][0]["status"] == "captured"
    assert [m["id"] for m in data["payment_methods"]] == [method["id"]]
    assert len(data["sessions"]) == 1 and "token" not in data["sessions"][0]
    assert "sess_" not in r.text.replace(data["sessions"][0]["id"], "")
    # Nothing of Bob's, and no query or path can point it elsewhere.
    assert bob_id not in r.text and bob_method["id"] not in r.text
    pointed = await api.get(f"/v1/me/export?customer_id={bob_id}", headers=ann)
    assert pointed.json()["customer"]["id"] == ann_id
    assert (await api.get(f"/v1/customers/{bob_id}/export", headers=ann)).status_code == 404
    assert (await api.get("/v1/me/export")).status_code == 401


async def test_idor_another_customers_order_checkout_and_method_are_404(
    api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    _, ann = await sign_up(api, "ann.idor@example.com")
    _, bob = await sign_up(api, "bob.idor@example.com")
    method = await save_card(api, stripe_emulator, ann)
    export = (await api.get("/v1/me/export", headers=ann)).json()
    order_id = export["orders"][0]["id"]
    checkout_id = export["checkouts"][0]["id"]
    for r in (
        await api.get(f"/v1/me/orders/{order_id}", headers=bob),
        await api.get(f"/v1/checkouts/{checkout_id}", headers=bob),
        await api.patch(f"/v1/checkouts/{checkout_id}", headers=bob, json={"email": "x@y.z"}),
        await api.delete(f"/v1/me/payment-methods/{method['id']}", headers=bob),
    ):
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"


def _contact(ctx: AppContext, table: str, row_id: str) -> tuple[object, ...]:
    with ctx.db.engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.text(
                    f"SELECT email_enc, shipping_address_enc, email_index FROM {table} "
                    "WHERE id = :id"
                ),
                {"id": row_id},
            ).one()
        )


async def test_retention_erases_contact_data_of_old_fulfilled_and_canceled_orders(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    old_fulfilled = (await pay_checkout(ctx, stripe_emulator))["order_id"]
    old_canceled = (await pay_checkout(ctx, stripe_emulator))["order_id"]
    recent = (await pay_checkout(ctx, stripe_emulator))["order_id"]
    open_order = (await pay_checkout(ctx, stripe_emulator))["order_id"]
    _, auth = await sign_up(api, "kept@example.com")
    chk = (await api.post("/v1/checkouts", json=checkout_body(), headers=auth)).json()
    paid = await api.post(
        f"/v1/checkouts/{chk['id']}/payments",
        headers=auth,
        json={"provider": "stripe", "payment_token": stripe_emulator.tokenize()},
    )
    customers_old = paid.json()["order_id"]
    days = ctx.settings.retention_days
    with ctx.db.engine.begin() as conn:
        old = sa.text("UPDATE orders SET fulfilled_at = CURRENT_TIMESTAMP WHERE id = :id")
        for oid in (old_fulfilled, recent, customers_old):
            conn.execute(old, {"id": oid})
        conn.execute(
            sa.text("UPDATE orders SET status = 'canceled' WHERE id = :id"), {"id": old_canceled}
        )
    # Backdate past the retention period (rows, not a patched clock).
    long_ago = datetime.now(UTC) - timedelta(days=days + 1)
    with ctx.db.engine.begin() as conn:
        for oid in (old_fulfilled, customers_old):
            conn.execute(
                sa.text("UPDATE orders SET fulfilled_at = :t WHERE id = :id"),
                {"t": long_ago, "id": oid},
            )
        conn.execute(
            sa.text("UPDATE orders SET updated_at = :t WHERE id = :id"),
            {"t": long_ago, "id": old_canceled},
        )
    assert await ctx.uow.run(ctx.retention.run) == 3
    for oid in (old_fulfilled, old_canceled, customers_old):
        assert _contact(ctx, "orders", oid) == (None, None, None)
        with ctx.db.engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT checkout_id, total, erased_at FROM orders WHERE id = :id"),
                {"id": oid},
            ).one()
        assert row.total == 6200 and row.erased_at is not None
        assert _contact(ctx, "checkouts", row.checkout_id) == (None, None, None)
    for oid in (recent, open_order):
        assert _contact(ctx, "orders", oid)[0] is not None
    # The customer's order still lists, without its contact fields.
    mine = (await api.get(f"/v1/me/orders/{customers_old}", headers=auth)).json()
    assert mine["email"] is None and mine["total"]["amount"] == 6200
    assert await ctx.uow.run(ctx.retention.run) == 0
