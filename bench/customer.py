"""A signed-in customer with a full profile and order history, for the ``me`` part.

Made over HTTP as a storefront would: register, sign in, fill name, phone and two
addresses, then buy ``orders`` times (tokenize at the emulator, create the checkout as the
customer with email and shipping address, pay). What ``GET /v1/me`` and
``GET /v1/me/orders`` then decrypt is a realistic customer's worth of fields.
"""

from __future__ import annotations

import asyncio

import aiohttp

from bench.flow import CARD_FORM, REQUEST_TIMEOUT, FlowFailed, step

EMAIL = "bench.customer@example.com"
PASSWORD = "bench-customer-passphrase-2026"
ADDRESS = {
    "name": "Bench Customer",
    "line1": "1 Benchmark Way",
    "line2": "Suite 200",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}


async def _prepare(api: str, stripe: str, pk: str, orders: int) -> str:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        await step(
            "register",
            client,
            "POST",
            f"{api}/v1/customers",
            json={"email": EMAIL, "password": PASSWORD, "name": "Bench Customer"},
        )
        session = await step(
            "sign in",
            client,
            "POST",
            f"{api}/v1/sessions",
            json={"email": EMAIL, "password": PASSWORD},
        )
        token = session.get("token")
        if not isinstance(token, str):
            raise FlowFailed("sign in: no token")
        auth = {"Authorization": f"Bearer {token}"}
        await step(
            "profile",
            client,
            "PATCH",
            f"{api}/v1/me",
            json={
                "name": "Bench Customer",
                "phone": "+15555550123",
                "addresses": [ADDRESS, {**ADDRESS, "line1": "2 Benchmark Way"}],
            },
            headers=auth,
        )
        for n in range(orders):
            pm = await step(
                "tokenize",
                client,
                "POST",
                f"{stripe}/v1/payment_methods",
                data=CARD_FORM,
                headers={"Authorization": f"Bearer {pk}"},
            )
            chk = await step(
                "create",
                client,
                "POST",
                f"{api}/v1/checkouts",
                json={
                    "currency": "USD",
                    "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 1 + n % 3}],
                    "email": EMAIL,
                    "shipping_address": ADDRESS,
                    "billing_address": ADDRESS,
                },
                headers=auth,
            )
            pay = await step(
                "pay",
                client,
                "POST",
                f"{api}/v1/checkouts/{chk.get('id')}/payments",
                json={"provider": "stripe", "payment_token": pm.get("id")},
                headers={**auth, "Idempotency-Key": f"bench-me-{n}"},
            )
            if not pay.get("order_id"):
                raise FlowFailed(f"pay: no order ({pay.get('status')!r})")
        return token


def prepare_customer(api: str, stripe: str, pk: str, *, orders: int) -> str:
    """The customer's bearer token, once their profile and ``orders`` orders exist."""
    return asyncio.run(_prepare(api, stripe, pk, orders))
