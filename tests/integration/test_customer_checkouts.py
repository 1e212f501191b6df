"""A signed-in customer's checkouts and orders, on each backend: theirs alone (another
customer gets 404), under their own key, and guest orders claimed by verifying the email."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from customers.keystore import SYSTEM
from customers.vault import key_id_of
from tests.conftest import Emulator
from tests.integration.helpers import (
    ADDRESS,
    PASSWORD,
    checkout_body,
    drain_mail,
    pay_checkout,
    sign_up,
)

pytestmark = pytest.mark.anyio


def _keys(ctx: AppContext, table: str, row_id: str) -> dict[str, str | None]:
    with ctx.db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                f"SELECT email_enc, shipping_address_enc, customer_id FROM {table} WHERE id = :id"
            ),
            {"id": row_id},
        ).one()
    return {
        "email": key_id_of(bytes(row.email_enc)),
        "shipping_address": key_id_of(bytes(row.shipping_address_enc)),
        "customer_id": row.customer_id,
    }


async def _buy(
    api: httpx.AsyncClient, emulator: Emulator, auth: dict[str, str], **body: Any
) -> dict[str, Any]:
    chk = await api.post("/v1/checkouts", json=checkout_body(**body), headers=auth)
    assert chk.status_code == 201, chk.text
    # A guest (no token) proves the checkout with its secret.
    proof = auth or {"X-Checkout-Secret": chk.json()["client_secret"]}
    pay = await api.post(
        f"/v1/checkouts/{chk.json()['id']}/payments",
        headers=proof,
        json={"provider": "stripe", "payment_token": emulator.tokenize()},
    )
    assert pay.status_code == 201, pay.text
    return {"checkout": chk.json(), "payment": pay.json()}


async def test_a_customers_checkout_and_order_are_theirs_under_their_key(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    customer_id, auth = await sign_up(api, "ann@example.com")
    bought = await _buy(api, stripe_emulator, auth)
    checkout_id = bought["checkout"]["id"]
    order_id = bought["payment"]["order_id"]
    customer_key = ctx.cipher.keys.primary(customer_id)[0]
    expected = {"email": customer_key, "shipping_address": customer_key, "customer_id": customer_id}
    assert _keys(ctx, "checkouts", checkout_id) == expected
    assert _keys(ctx, "orders", order_id) == expected
    assert customer_key != ctx.cipher.keys.primary(SYSTEM)[0]
    # The owner's token opens the checkout without its secret.
    got = await api.get(f"/v1/checkouts/{checkout_id}", headers=auth)
    assert got.status_code == 200 and got.json()["status"] == "completed"
    orders = (await api.get("/v1/me/orders", headers=auth)).json()
    assert [o["id"] for o in orders["data"]] == [order_id] and orders["has_more"] is False
    one = (await api.get(f"/v1/me/orders/{order_id}", headers=auth)).json()
    assert one["email"] == "jane.doe@example.com" and one["shipping_address"] == ADDRESS
    assert one["total"] == {"amount": 6200, "currency": "USD"} and len(one["lines"]) == 2


async def test_another_customer_gets_404_for_the_checkout_and_the_order(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    _, alice = await sign_up(api, "alice@example.com")
    _, bob = await sign_up(api, "bob@example.com")
    bought = await _buy(api, stripe_emulator, alice)
    open_chk = (await api.post("/v1/checkouts", json=checkout_body(), headers=alice)).json()
    order_id = bought["payment"]["order_id"]
    for path in (
        f"/v1/me/orders/{order_id}",
        f"/v1/checkouts/{bought['checkout']['id']}",
        f"/v1/checkouts/{open_chk['id']}",
    ):
        r = await api.get(path, headers=bob)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
    patch = await api.patch(
        f"/v1/checkouts/{open_chk['id']}", headers=bob, json={"email": "bob@example.com"}
    )
    assert patch.status_code == 404
    assert (await api.get("/v1/me/orders", headers=bob)).json()["data"] == []
    # A guest order is nobody's either.
    guest = await pay_checkout(ctx, stripe_emulator)
    assert (await api.get(f"/v1/me/orders/{guest['order_id']}", headers=alice)).status_code == 404
    # The owner may change their open checkout with the token alone.
    mine = await api.patch(
        f"/v1/checkouts/{open_chk['id']}", headers=alice, json={"email": "a2@example.com"}
    )
    assert mine.status_code == 200 and mine.json()["email"] == "a2@example.com"


async def test_another_customer_cannot_pay_refresh_or_list_what_is_not_theirs(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    """IDOR beyond reading: acting on Alice's checkout or payment with Bob's token, or
    Bob's token beside a guessed id, is 404 and changes nothing."""
    _, alice = await sign_up(api, "alice.pay@example.com")
    _, bob = await sign_up(api, "bob.pay@example.com")
    open_chk = (await api.post("/v1/checkouts", json=checkout_body(), headers=alice)).json()
    bought = await _buy(api, stripe_emulator, alice)
    checkout_id, payment_id = bought["checkout"]["id"], bought["payment"]["id"]
    answers = [
        await api.post(
            f"/v1/checkouts/{open_chk['id']}/payments",
            headers=bob,
            json={"provider": "stripe", "payment_token": stripe_emulator.tokenize()},
        ),
        await api.post(f"/v1/checkouts/{open_chk['id']}/paypal-orders", headers=bob, json={}),
        await api.post(
            f"/v1/checkouts/{checkout_id}/payments/{payment_id}/refresh", headers=bob, json={}
        ),
    ]
    for r in answers:
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"
    # Bob's own lists hold nothing of Alice's.
    assert (await api.get("/v1/me/orders", headers=bob)).json()["data"] == []
    assert (await api.get("/v1/me/payment-methods", headers=bob)).json()["data"] == []
    assert payment_id not in (await api.get("/v1/me/export", headers=bob)).text
    # Alice's open checkout is still open and unpaid.
    mine = (await api.get(f"/v1/checkouts/{open_chk['id']}", headers=alice)).json()
    assert mine["status"] == "open"


async def test_orders_page_newest_first(api: httpx.AsyncClient, stripe_emulator: Emulator) -> None:
    _, auth = await sign_up(api, "pat@example.com")
    ids = [(await _buy(api, stripe_emulator, auth))["payment"]["order_id"] for _ in range(3)]
    first = (await api.get("/v1/me/orders", params={"limit": 2}, headers=auth)).json()
    assert first["has_more"] is True and len(first["data"]) == 2
    rest = (
        await api.get(
            "/v1/me/orders", params={"starting_after": first["data"][-1]["id"]}, headers=auth
        )
    ).json()
    got = [o["id"] for o in first["data"] + rest["data"]]
    assert sorted(got) == sorted(ids) and len(set(got)) == 3 and rest["has_more"] is False


async def test_verifying_the_email_claims_guest_orders_under_the_customers_key(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    guest = await pay_checkout(ctx, stripe_emulator)  # as jane.doe@example.com
    other_guest = await _buy(api, stripe_emulator, {}, email="someone@example.com")
    order_id = guest["order_id"]
    assert _keys(ctx, "orders", order_id)["email"] == ctx.cipher.keys.primary(SYSTEM)[0]

    customer_id, auth = await sign_up(api, "Jane.Doe@example.com")
    assert (await api.get("/v1/me/orders", headers=auth)).json()["data"] == []
    sent = await drain_mail(ctx)
    [mail] = [m for m in sent if m.kind == "verify_email"]
    token = mail.data["token"]
    assert token not in repr(mail)

    bad = await api.post("/v1/customers/verify-email", json={"token": "evf_nope"})
    assert bad.status_code == 422 and "token" in bad.json()["error"]["fields"]
    r = await api.post("/v1/customers/verify-email", json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json()["email_verified"] is True
    assert r.json()["claimed"] == {"checkouts": 1, "orders": 1}

    customer_key = ctx.cipher.keys.primary(customer_id)[0]
    assert _keys(ctx, "orders", order_id) == {
        "email": customer_key,
        "shipping_address": customer_key,
        "customer_id": customer_id,
    }
    assert _keys(ctx, "checkouts", guest["checkout_id"])["customer_id"] == customer_id
    mine = (await api.get("/v1/me/orders", headers=auth)).json()["data"]
    assert [o["id"] for o in mine] == [order_id]
    assert mine[0]["email"] == "jane.doe@example.com"
    # Someone else's guest order stays a guest's.
    assert _keys(ctx, "orders", other_guest["payment"]["order_id"])["customer_id"] is None
    # A token works once.
    again = await api.post("/v1/customers/verify-email", json={"token": token})
    assert again.status_code == 422
    me = (await api.get("/v1/me", headers=auth)).json()
    assert me["email_verified"] is True


async def test_an_unverified_registration_claims_nothing(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    guest = await pay_checkout(ctx, stripe_emulator)
    _, auth = await sign_up(api, "jane.doe@example.com", PASSWORD)
    assert (await api.get("/v1/me/orders", headers=auth)).json()["data"] == []
    assert _keys(ctx, "orders", guest["order_id"])["customer_id"] is None


async def test_a_dead_token_on_a_checkout_is_401_not_a_guest(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/v1/checkouts", json=checkout_body(), headers={"Authorization": "Bearer sess_dead"}
    )
    assert r.status_code == 401
