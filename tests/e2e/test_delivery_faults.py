"""The real ``checkout serve`` with its Stripe emulator told to misbehave: deliveries
dropped (the endpoint is down), then duplicated and reversed. Over HTTP, on each backend."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e.served import CHECKOUT, Served, serve_env

pytestmark = pytest.mark.e2e

SK = {"Authorization": "Bearer sk_test_emulator_dev"}
PK = {"Authorization": "Bearer pk_test_emulator_dev"}
VISA, DECLINE, THREE_DS = "4242424242424242", "4000000000000002", "4000002760003184"


class Shop:
    """A buyer's and a merchant's view of the served instance."""

    def __init__(self, instance: Served, db_url: str) -> None:
        self.served = instance
        self.http = httpx.Client(timeout=10)
        self.engine = sa.create_engine(db_url)

    def close(self) -> None:
        self.http.close()
        self.engine.dispose()

    def deliveries(self, **plan: object) -> None:
        r = self.http.put(f"{self.served.stripe}/_emulator/deliveries", headers=SK, json=plan)
        assert r.status_code == 200, r.text

    def pay(self, card: str, **extra: str) -> dict[str, Any]:
        s = self.served
        pm = self.http.post(
            f"{s.stripe}/v1/payment_methods",
            headers=PK,
            data={
                "type": "card",
                "card[number]": card,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
            },
        ).json()["id"]
        chk = self.http.post(
            f"{s.api}/v1/checkouts",
            json={"currency": "USD", "lines": [{"sku": "MUG-WHITE", "quantity": 2}]},
        ).json()
        r = self.http.post(
            f"{s.api}/v1/checkouts/{chk['id']}/payments",
            headers={"X-Checkout-Secret": chk["client_secret"]},
            json={"provider": "stripe", "payment_token": pm, **extra},
        )
        body: dict[str, Any] = r.json()
        return {"id": body["error"]["payment_id"]} if r.status_code == 402 else body

    def complete_3ds(self, payment: dict[str, Any]) -> None:
        url = httpx.URL(payment["next_action"]["url"])
        r = self.http.post(
            f"{self.served.stripe}{url.path}/complete",
            data={"outcome": "succeed", "token": url.params["token"]},
        )
        assert r.status_code in (200, 303)

    def refund_at_stripe(self, payment_id: str, amount: int) -> None:
        """A refund made in Stripe's dashboard, behind our back."""
        r = self.http.post(
            f"{self.served.stripe}/v1/refunds",
            headers=SK,
            data={"payment_intent": self.payment(payment_id)["provider_ref"], "amount": amount},
        )
        assert r.status_code == 200, r.text

    def payment(self, payment_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT status, amount_refunded, provider_ref, order_id FROM payments "
                    "WHERE id = :id"
                ),
                {"id": payment_id},
            ).mappings()
            return dict(row.one())

    def inbox(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT event_id, status FROM webhook_events"))
            return [(r[0], r[1]) for r in rows]

    def orders(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one())

    def payment_events(self) -> int:
        listed = self.http.get(
            f"{self.served.stripe}/v1/events",
            headers=SK,
            params={"limit": 100},
        ).json()["data"]
        return sum(e["type"].startswith(("payment_intent.", "charge.")) for e in listed)

    def calls(self) -> dict[str, int]:
        calls: dict[str, int] = self.http.get(
            f"{self.served.stripe}/_emulator/calls", headers=SK
        ).json()["calls"]
        return calls


def _eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the served worker did not get there in time"
        time.sleep(0.2)


def test_with_the_endpoint_down_checkout_reconcile_brings_payments_to_stripes_state(
    served: Served,
    db_url: str,
    tmp_path: Path,
) -> None:
    shop = Shop(served, db_url)
    try:
        shop.deliveries(mode="drop")
        paid = shop.pay(VISA)
        declined = shop.pay(DECLINE)
        three_ds = shop.pay(THREE_DS, return_url="https://shop.example/r")
        refunded = shop.pay(VISA)
        shop.complete_3ds(three_ds)
        shop.refund_at_stripe(refunded["id"], 1000)
        time.sleep(1.5)  # a few worker passes: with nothing delivered, nothing changes
        assert shop.payment(three_ds["id"])["status"] == "requires_action"
        assert shop.payment(refunded["id"])["status"] == "captured"
        assert shop.inbox() == [] and shop.calls().get("webhooks.delivered", 0) == 0

        r = subprocess.run(
            [CHECKOUT, "reconcile"],
            env=serve_env(db_url, tmp_path / "data", served.ports),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        # Unless the served worker's own minute came first, the command found them all.
        assert report["events_recovered"] in (0, shop.payment_events())
        assert report["checked"] == 0  # too recent to look up: the event list did it

        # The served worker applies what reconciliation put in the inbox.
        _eventually(lambda: shop.payment(refunded["id"])["status"] == "partially_refunded")
        _eventually(lambda: shop.payment(three_ds["id"])["status"] == "captured")
        assert shop.payment(refunded["id"])["amount_refunded"] == 1000
        assert shop.payment(three_ds["id"])["order_id"] is not None
        assert shop.payment(paid["id"])["status"] == "captured"
        assert shop.payment(declined["id"])["status"] == "failed"
        assert shop.orders() == 3
        _eventually(lambda: all(status == "processed" for _, status in shop.inbox()))
        assert len(shop.inbox()) == shop.payment_events()
        # The served worker reconciles too (at start, then every minute), without failing.
        assert "worker pass failed" not in served.log.read_text()
    finally:
        shop.close()


def test_duplicated_and_reversed_deliveries_end_right_with_one_effect(
    served: Served,
    db_url: str,
) -> None:
    shop = Shop(served, db_url)
    try:
        shop.deliveries(mode="hold", order="reverse", copies=3)
        three_ds = shop.pay(THREE_DS, return_url="https://shop.example/r")
        shop.complete_3ds(three_ds)
        refunded = shop.pay(VISA)
        shop.refund_at_stripe(refunded["id"], 1000)
        events = shop.payment_events()
        assert events == 4  # requires_action, succeeded; succeeded, charge.refunded
        r = shop.http.post(f"{served.stripe}/_emulator/deliveries/release", headers=SK)
        assert r.json() == {"released": events}

        _eventually(lambda: shop.calls().get("webhooks.delivered", 0) == 3 * events)
        _eventually(lambda: shop.payment(refunded["id"])["status"] == "partially_refunded")
        _eventually(lambda: shop.payment(three_ds["id"])["status"] == "captured")
        # Twelve deliveries, the newest first: one inbox row per event, one order per
        # payment, and the refund counted once.
        _eventually(lambda: all(status == "processed" for _, status in shop.inbox()))
        assert len(shop.inbox()) == events
        assert shop.payment(refunded["id"])["amount_refunded"] == 1000
        assert shop.orders() == 2
    finally:
        shop.close()
