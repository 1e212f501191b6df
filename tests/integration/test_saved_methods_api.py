"""Saved payment methods over HTTP, on each backend: saved by a secured payment (also
after 3-D Secure), listed, paid with, deleted (detached at the provider), and only ever
the signed-in customer's own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.config import DEV_STRIPE_SECRET_KEY
from checkout.context import AppContext
from tests.conftest import Emulator
from tests.integration.helpers import checkout_body, sign_up

pytestmark = pytest.mark.anyio

THREE_DS = "4000002760003184"


def stripe_methods(emulator: Emulator, stripe_customer: str) -> list[str]:
    r = httpx.get(
        f"{emulator.base_url}/v1/customers/{stripe_customer}/payment_methods",
        headers={"Authorization": f"Bearer {DEV_STRIPE_SECRET_KEY}"},
    )
    r.raise_for_status()
    return [pm["id"] for pm in r.json()["data"]]


def stripe_customer_of(ctx: AppContext, customer_id: str) -> str | None:
    with ctx.db.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT stripe_customer_id FROM customers WHERE id = :id"), {"id": customer_id}
        ).scalar()


async def new_checkout(api: httpx.AsyncClient, auth: dict[str, str]) -> str:
    chk = await api.post("/v1/checkouts", json=checkout_body(), headers=auth)
    assert chk.status_code == 201, chk.text
    return str(chk.json()["id"])


async def pay(
    api: httpx.AsyncClient, auth: dict[str, str], checkout_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await api.post(f"/v1/checkouts/{checkout_id}/payments", headers=auth, json=body)


async def save_card(
    api: httpx.AsyncClient, emulator: Emulator, auth: dict[str, str]
) -> dict[str, Any]:
    r = await pay(
        api,
        auth,
        await new_checkout(api, auth),
        {"provider": "stripe", "payment_token": emulator.tokenize(), "save_payment_method": True},
    )
    assert r.status_code == 201 and r.json()["status"] == "captured", r.text
    listed = (await api.get("/v1/me/payment-methods", headers=auth)).json()["data"]
    assert len(listed) >= 1
    return dict(listed[0])


async def test_a_card_saved_at_payment_is_listed_and_pays_again(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    customer_id, auth = await sign_up(api, "saver@example.com")
    method = await save_card(api, stripe_emulator, auth)
    assert method["id"].startswith("pm_") and method["provider"] == "stripe"
    assert (method["brand"], method["last4"]) == ("visa", "4242")
    assert (method["exp_month"], method["exp_year"]) == (12, 2034)
    listed = await api.get("/v1/me/payment-methods", headers=auth)
    assert listed.headers["cache-control"] == "no-store"
    # Our id, never the provider's token.
    with ctx.db.engine.connect() as conn:
        token = conn.execute(sa.text("SELECT token FROM payment_methods")).scalar_one()
    assert token not in listed.text and method["id"] != token
    stripe_customer = stripe_customer_of(ctx, customer_id)
    assert stripe_customer is not None
    assert stripe_methods(stripe_emulator, stripe_customer) == [token]

    again = await pay(
        api, auth, await new_checkout(api, auth), {"saved_payment_method": method["id"]}
    )
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "captured" and again.json()["order_id"]


async def test_a_3ds_card_is_saved_once_the_challenge_is_passed(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    _, auth = await sign_up(api, "threeds@example.com")
    checkout_id = await new_checkout(api, auth)
    r = await pay(
        api,
        auth,
        checkout_id,
        {
            "provider": "stripe",
            "payment_token": stripe_emulator.tokenize(THREE_DS),
            "save_payment_method": True,
            "return_url": "https://shop.example/back",
        },
    )
    assert r.status_code == 201 and r.json()["status"] == "requires_action", r.text
    assert (await api.get("/v1/me/payment-methods", headers=auth)).json()["data"] == []
    stripe_emulator.complete_3ds(r.json()["next_action"]["url"])
    refreshed = await api.post(
        f"/v1/checkouts/{checkout_id}/payments/{r.json()['id']}/refresh", headers=auth
    )
    assert refreshed.json()["status"] == "captured", refreshed.text
    listed = (await api.get("/v1/me/payment-methods", headers=auth)).json()["data"]
    assert [m["last4"] for m in listed] == ["3184"]


async def test_deleting_a_method_detaches_it_at_the_provider(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    customer_id, auth = await sign_up(api, "deleter@example.com")
    method = await save_card(api, stripe_emulator, auth)
    gone = await api.delete(f"/v1/me/payment-methods/{method['id']}", headers=auth)
    assert gone.status_code == 204
    assert (await api.get("/v1/me/payment-methods", headers=auth)).json()["data"] == []
    stripe_customer = stripe_customer_of(ctx, customer_id)
    assert stripe_customer is not None and stripe_methods(stripe_emulator, stripe_customer) == []
    again = await api.delete(f"/v1/me/payment-methods/{method['id']}", headers=auth)
    assert again.status_code == 404
    paid = await pay(
        api, auth, await new_checkout(api, auth), {"saved_payment_method": method["id"]}
    )
    assert paid.status_code == 404


async def test_another_customers_method_is_not_found(
    api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    _, ann = await sign_up(api, "ann.pm@example.com")
    _, bob = await sign_up(api, "bob.pm@example.com")
    method = await save_card(api, stripe_emulator, ann)
    assert (await api.get("/v1/me/payment-methods", headers=bob)).json()["data"] == []
    r = await api.delete(f"/v1/me/payment-methods/{method['id']}", headers=bob)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    paid = await pay(api, bob, await new_checkout(api, bob), {"saved_payment_method": method["id"]})
    assert paid.status_code == 404
    # Ann's method survived Bob's attempts.
    assert len((await api.get("/v1/me/payment-methods", headers=ann)).json()["data"]) == 1


async def test_guests_and_paypal_cannot_save(
    api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    guest = await api.post("/v1/checkouts", json=checkout_body())
    r = await api.post(
        f"/v1/checkouts/{guest.json()['id']}/payments",
        headers={"X-Checkout-Secret": guest.json()["client_secret"]},
        json={
            "provider": "stripe",
            "payment_token": stripe_emulator.tokenize(),
            "save_payment_method": True,
        },
    )
    assert r.status_code == 422 and "save_payment_method" in r.json()["error"]["fields"]
    _, auth = await sign_up(api, "paypal.saver@example.com")
    r = await pay(
        api,
        auth,
        await new_checkout(api, auth),
        {"provider": "paypal", "payment_token": "5O190127TN364715T", "save_payment_method": True},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["fields"]["save_payment_method"].startswith("Payment methods cannot")
