"""The real ``checkout serve`` process, spoken to over HTTP: a guest buys something."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import tokenize
from tests.e2e.served import CHECKOUT, Served, free_ports, serve_env

pytestmark = pytest.mark.e2e


def test_a_guest_buys_over_http_and_ctrl_c_stops_cleanly(served: Served) -> None:
    with httpx.Client(timeout=10) as http:
        products = http.get(f"{served.api}/v1/products").json()["data"]
        assert {p["sku"] for p in products} >= {"TSHIRT-BLK-M", "MUG-WHITE"}
        pm = tokenize(http, served.stripe)
        chk = http.post(
            f"{served.api}/v1/checkouts",
            json={
                "currency": "USD",
                "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 2}],
                "email": "buyer@example.com",
            },
        )
        assert chk.status_code == 201
        body = chk.json()
        secret = {"X-Checkout-Secret": body["client_secret"]}
        pay = http.post(
            f"{served.api}/v1/checkouts/{body['id']}/payments",
            headers={**secret, "Idempotency-Key": "e2e-1"},
            json={"provider": "stripe", "payment_token": pm},
        )
        assert pay.status_code == 201, pay.text
        assert pay.json()["status"] == "captured" and pay.json()["order_id"].startswith("ord_")
        done = http.get(f"{served.api}/v1/checkouts/{body['id']}", headers=secret).json()
        assert done["status"] == "completed"
        # The listeners keep to their own routes.
        assert http.get(f"{served.private}/healthz").status_code == 200
        assert http.get(f"{served.api}/healthz").status_code == 404
        assert http.get(f"{served.private}/v1/products").status_code == 404
        refused = http.post(f"{served.api}/v1/checkouts", json={"note": "4242424242424242"})
        assert refused.status_code == 422
    served.proc.send_signal(signal.SIGINT)
    assert served.proc.wait(timeout=15) == 0
    logs = served.log.read_text()
    assert "4242424242424242" not in logs and "buyer@example.com" not in logs
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(r.get("route") == "/v1/checkouts/{checkout_id}/payments" for r in records)


def test_production_refuses_to_start_and_names_the_problems(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
    env.update(
        CHECKOUT_ENV="production",
        CHECKOUT_DATA_DIR=str(tmp_path),
        CHECKOUT_STRIPE_API_BASE="http://127.0.0.1:8010",
    )
    env.pop("DATABASE_URL", None)
    r = subprocess.run(
        [CHECKOUT, "serve"], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    for named in (
        "CHECKOUT_SECRET_KEY",
        "CHECKOUT_STRIPE_API_BASE",
        "CHECKOUT_STRIPE_SECRET_KEY",
        "DATABASE_URL",
        "CHECKOUT_KEK",
        "CHECKOUT_KEYSTORE_URL",
    ):
        assert named in r.stderr


def test_a_taken_port_stops_the_whole_service(db_url: str, tmp_path: Path) -> None:
    ports = free_ports("public", "private", "stripe", "paypal")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports["private"]))
        blocker.listen()
        r = subprocess.run(
            [CHECKOUT, "serve"],
            check=False,
            env=serve_env(db_url, tmp_path / "d", ports),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode != 0
    assert "private listener ready" not in r.stdout


def test_production_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    ports = free_ports("public", "private")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
    env.update(
        CHECKOUT_ENV="production",
        CHECKOUT_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}",
        CHECKOUT_SECRET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        CHECKOUT_KEK=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        CHECKOUT_KEYSTORE_URL=f"sqlite:///{tmp_path / 'keys.db'}",
        CHECKOUT_STRIPE_API_BASE="https://api.stripe.com",
        CHECKOUT_STRIPE_SECRET_KEY="sk_live_not_used_here",
        CHECKOUT_STRIPE_WEBHOOK_SECRETS="whsec_x",
        CHECKOUT_PUBLIC_PORT=str(ports["public"]),
        CHECKOUT_PRIVATE_PORT=str(ports["private"]),
    )
    r = subprocess.run(
        [CHECKOUT, "serve"], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert "run `checkout migrate`" in r.stderr
    assert "ready on" not in r.stdout


def test_three_d_secure_is_settled_by_the_emulators_webhook_alone(served: Served) -> None:
    with httpx.Client(timeout=10) as http:
        pm = tokenize(http, served.stripe, "4000002760003184")
        body = http.post(
            f"{served.api}/v1/checkouts",
            json={"currency": "USD", "lines": [{"sku": "MUG-WHITE", "quantity": 1}]},
        ).json()
        secret = {"X-Checkout-Secret": body["client_secret"]}
        pay = http.post(
            f"{served.api}/v1/checkouts/{body['id']}/payments",
            headers=secret,
            json={
                "provider": "stripe",
                "payment_token": pm,
                "return_url": "https://shop.example/return",
            },
        ).json()
        assert pay["status"] == "requires_action"
        url = httpx.URL(pay["next_action"]["url"])
        done = http.post(
            f"{served.stripe}{url.path}/complete",
            data={"outcome": "succeed", "token": url.params["token"]},
        )
        assert done.status_code in (200, 303)
        # No refresh: the emulator's signed webhook reaches /webhooks/stripe, the inbox
        # keeps it, and the worker loop settles the payment.
        deadline = time.monotonic() + 15
        status = ""
        while time.monotonic() < deadline:
            status = http.get(f"{served.api}/v1/checkouts/{body['id']}", headers=secret).json()[
                "status"
            ]
            if status == "completed":
                break
            time.sleep(0.2)
        assert status == "completed"


def test_an_integration_subscribes_with_an_api_key_and_hears_of_the_order(
    served: Served, db_url: str, tmp_path: Path
) -> None:
    """The operator makes a key with the CLI; the integration subscribes on the private
    listener; a guest pays; the worker loop delivers signed order events."""
    from tests.webhook_receiver import receiver, signature_ok

    made = subprocess.run(
        [CHECKOUT, "api-keys", "create", "--scopes", "webhooks:manage", "--label", "erp"],
        env=serve_env(db_url, tmp_path / "data", served.ports),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = made.stdout.strip()
    assert key.startswith("sk_") and key not in made.stderr
    with receiver() as hook, httpx.Client(timeout=10) as http:
        auth = {"Authorization": f"Bearer {key}"}
        public = http.post(
            f"{served.api}/s2s/v1/webhook-endpoints",
            headers=auth,
            json={"url": hook.url, "events": ["order.created", "order.paid"]},
        )
        assert public.status_code == 404
        sub = http.post(
            f"{served.private}/s2s/v1/webhook-endpoints",
            headers=auth,
            json={"url": hook.url, "events": ["order.created", "order.paid"]},
        )
        assert sub.status_code == 201, sub.text
        secret = sub.json()["secret"]
        pm = tokenize(http, served.stripe)
        chk = http.post(
            f"{served.api}/v1/checkouts",
            json={
                "currency": "EUR",
                "lines": [{"sku": "MUG-WHITE", "quantity": 3}],
                "email": "erp-test@example.com",
            },
        ).json()
        pay = http.post(
            f"{served.api}/v1/checkouts/{chk['id']}/payments",
            headers={"X-Checkout-Secret": chk["client_secret"]},
            json={"provider": "stripe", "payment_token": pm},
        ).json()
        assert pay["status"] == "captured"
        events = hook.wait_for(2)
        assert sorted(e["type"] for e in events) == ["order.created", "order.paid"]
        assert {e["data"]["order"]["id"] for e in events} == {pay["order_id"]}
        for r in hook.received:
            assert signature_ok(secret, r.body, r.headers["checkout-signature"])
            assert b"erp-test" not in r.body
    # Neither the key nor the endpoint's secret reached the service's logs.
    logged = served.log.read_text()
    assert key not in logged and secret not in logged


def test_a_refund_made_at_paypal_reaches_our_payment_by_the_emulators_webhook_alone(
    served: Served, db_url: str, tmp_path: Path
) -> None:
    with httpx.Client(timeout=10) as http:
        body = http.post(
            f"{served.api}/v1/checkouts",
            json={"currency": "USD", "lines": [{"sku": "MUG-WHITE", "quantity": 2}]},
        ).json()
        secret = {"X-Checkout-Secret": body["client_secret"]}
        order = http.post(f"{served.api}/v1/checkouts/{body['id']}/paypal-orders", headers=secret)
        assert order.status_code == 201, order.text
        order_id = order.json()["paypal_order_id"]
        assert order.json()["approve_url"].startswith(served.paypal)
        # The buyer approves on the emulator's page.
        approved = http.post(
            f"{served.paypal}/checkoutnow/{order_id}/approve", data={"action": "approve"}
        )
        assert approved.status_code in (200, 303)
        pay = http.post(
            f"{served.api}/v1/checkouts/{body['id']}/payments",
            headers=secret,
            json={"provider": "paypal", "payment_token": order_id},
        ).json()
        assert pay["status"] == "captured"
        # The merchant refunds in PayPal's dashboard: at the emulator, never through us.
        token = http.post(
            f"{served.paypal}/v1/oauth2/token",
            auth=("emulator-dev-client", "emulator-dev-secret"),
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        full = http.get(f"{served.paypal}/v2/checkout/orders/{order_id}", headers=bearer).json()
        capture_id = full["purchase_units"][0]["payments"]["captures"][0]["id"]
        refund = http.post(
            f"{served.paypal}/v2/payments/captures/{capture_id}/refund", headers=bearer, json={}
        )
        assert refund.status_code == 201, refund.text
    # No refresh, and reconciliation leaves captured payments alone: only the emulator's
    # signed webhook, verified against the dev CA with its certificate pinned, can say so.
    engine = sa.create_engine(db_url)
    try:
        deadline = time.monotonic() + 30
        row: tuple[str, int] | None = None
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                found = conn.execute(
                    sa.text("SELECT status, amount_refunded FROM payments WHERE id = :id"),
                    {"id": pay["id"]},
                ).one()
            row = (str(found[0]), int(found[1]))
            if row[0] == "refunded":
                break
            time.sleep(0.2)
        assert row == ("refunded", pay["amount"]["amount"])
        with engine.connect() as conn:
            kinds = conn.execute(
                sa.text("SELECT type, status FROM webhook_events WHERE provider = 'paypal'")
            ).all()
        assert ("PAYMENT.CAPTURE.REFUNDED", "processed") in [tuple(k) for k in kinds]
    finally:
        engine.dispose()
    pki = tmp_path / "data" / "dev-paypal-webhook-pki"
    assert pki.stat().st_mode & 0o777 == 0o700
    assert (pki / "leaf.key").stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" not in served.log.read_text()
