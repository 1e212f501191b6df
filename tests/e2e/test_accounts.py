"""The real ``checkout serve`` over HTTP: a customer registers, signs in, buys, sees the
order; verifying the email (the token from the dev mail file the worker wrote) brings in
the guest order placed earlier with that email."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import tokenize
from tests.e2e.served import Served

pytestmark = pytest.mark.e2e

EMAIL = "buyer@example.com"
PASSWORD = "seven tidy otters juggle plums"


def _buy(http: httpx.Client, served: Served, headers: dict[str, str]) -> dict[str, Any]:
    chk = http.post(
        f"{served.api}/v1/checkouts",
        headers=headers,
        json={"currency": "USD", "email": EMAIL, "lines": [{"sku": "MUG-WHITE", "quantity": 1}]},
    )
    assert chk.status_code == 201, chk.text
    proof = headers or {"X-Checkout-Secret": chk.json()["client_secret"]}
    pay = http.post(
        f"{served.api}/v1/checkouts/{chk.json()['id']}/payments",
        headers=proof,
        json={"provider": "stripe", "payment_token": tokenize(http, served.stripe)},
    )
    assert pay.status_code == 201, pay.text
    return dict(pay.json())


def _verification_token(mail_dir: Path, timeout: float = 15) -> str:
    """The worker loop sends queued emails; in dev each becomes a file in the data dir."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in mail_dir.glob("*.json") if mail_dir.exists() else []:
            content = json.loads(path.read_text())
            if content["kind"] == "verify_email":
                assert content["to"] == EMAIL
                return str(content["token"])
        time.sleep(0.2)
    raise AssertionError("no verification email was written")


def test_register_sign_in_buy_and_see_the_orders(served: Served, tmp_path: Path) -> None:
    with httpx.Client(timeout=10) as http:
        guest = _buy(http, served, {})
        reg = http.post(f"{served.api}/v1/customers", json={"email": EMAIL, "password": PASSWORD})
        assert reg.status_code == 201, reg.text
        s = http.post(f"{served.api}/v1/sessions", json={"email": EMAIL, "password": PASSWORD})
        assert s.status_code == 201, s.text
        auth = {"Authorization": f"Bearer {s.json()['token']}"}
        mine = _buy(http, served, auth)
        orders = http.get(f"{served.api}/v1/me/orders", headers=auth).json()["data"]
        assert [o["id"] for o in orders] == [mine["order_id"]]

        token = _verification_token(tmp_path / "data" / "dev-mail")
        v = http.post(f"{served.api}/v1/customers/verify-email", json={"token": token})
        assert v.status_code == 200, v.text
        orders = http.get(f"{served.api}/v1/me/orders", headers=auth).json()["data"]
        assert {o["id"] for o in orders} == {mine["order_id"], guest["order_id"]}

        assert http.delete(f"{served.api}/v1/sessions/current", headers=auth).status_code == 204
        assert http.get(f"{served.api}/v1/me", headers=auth).status_code == 401
    served.proc.send_signal(signal.SIGINT)
    assert served.proc.wait(timeout=15) == 0
    logs = served.log.read_text()
    assert token not in logs and EMAIL not in logs and PASSWORD not in logs
    assert s.json()["token"] not in logs
