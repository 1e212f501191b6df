"""The API process dies after the provider charged and before our commit: after a
restart, the client's retry settles that same payment and nothing is charged twice."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import tokenize
from tests.e2e.served import CHECKOUT, free_port, stop_process, wait_ready

pytestmark = pytest.mark.e2e

SECRET = "sk_test_emulator_dev"


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def _charges(emulator: str) -> int:
    calls = httpx.get(f"{emulator}/_emulator/calls", headers={"Authorization": f"Bearer {SECRET}"})
    return int(calls.json()["calls"].get("payment_intents.confirm", 0))


def test_killed_between_provider_and_commit_then_retried_charges_once(
    db_url: str, tmp_path: Path
) -> None:
    emu_port = free_port()
    emulator = _start(
        [sys.executable, "-m", "providers.stripe_emulator", "--port", str(emu_port)],
        {**os.environ},
    )
    emu = f"http://127.0.0.1:{emu_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
    api_port = free_port()
    env.update(
        CHECKOUT_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=db_url,
        CHECKOUT_PUBLIC_PORT=str(api_port),
        CHECKOUT_PRIVATE_PORT=str(free_port()),
        CHECKOUT_PAYPAL_EMULATOR_PORT=str(free_port()),
        CHECKOUT_STOREFRONT_PORT=str(free_port()),
        CHECKOUT_STRIPE_API_BASE=emu,
        CHECKOUT_STRIPE_SECRET_KEY=SECRET,
        CHECKOUT_PROVIDER_TIMEOUT="8",
    )
    api = f"http://127.0.0.1:{api_port}"
    serve = _start([CHECKOUT, "serve"], env)
    try:
        assert emulator.stdout is not None
        assert "ready on" in emulator.stdout.readline()
        wait_ready(serve, 3)
        subprocess.run([CHECKOUT, "seed"], env=env, check=True, capture_output=True, timeout=60)
        with httpx.Client(timeout=15) as http:
            pm = tokenize(http, emu)
            chk = http.post(
                f"{api}/v1/checkouts",
                json={"currency": "USD", "lines": [{"sku": "MUG-WHITE", "quantity": 1}]},
            ).json()
            headers = {"X-Checkout-Secret": chk["client_secret"], "Idempotency-Key": "pay-once"}
            body = {"provider": "stripe", "payment_token": pm}
            before = _charges(emu)
            # The provider takes 2.5 s to answer; the API process dies after 1 s.
            http.post(
                f"{emu}/_emulator/faults",
                headers={"Authorization": f"Bearer {SECRET}"},
                json={
                    "fault": "delay",
                    "method": "POST",
                    "path_prefix": "/v1/payment_intents",
                    "delay_ms": 2500,
                },
            )
            outcome: list[object] = []

            def first_click() -> None:
                try:
                    outcome.append(
                        http.post(
                            f"{api}/v1/checkouts/{chk['id']}/payments", headers=headers, json=body
                        )
                    )
                except httpx.HTTPError as exc:
                    outcome.append(exc)

            clicker = threading.Thread(target=first_click)
            clicker.start()
            # Kill once the payment is written ahead, i.e. the charge is on its way to the
            # provider (which takes 2.5 s): polling, not a fixed sleep, so a slow machine
            # cannot kill the process before it called the provider.
            engine = sa.create_engine(db_url)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    if conn.execute(sa.text("SELECT COUNT(*) FROM payments")).scalar_one():
                        break
                time.sleep(0.05)
            engine.dispose()
            time.sleep(0.5)
            serve.kill()
            serve.wait()
            clicker.join(timeout=20)
            assert outcome and isinstance(outcome[0], httpx.HTTPError)
            time.sleep(2.5)  # the provider finishes the charge nobody is waiting for
            assert _charges(emu) - before == 1

            # Restart. Time passes beyond the dead request's leases (simulated here).
            stop_process(serve)
            serve = _start([CHECKOUT, "serve"], env)
            wait_ready(serve, 3)
            engine = sa.create_engine(db_url)
            with engine.begin() as conn:
                pending = conn.execute(sa.text("SELECT id, status FROM payments")).all()
                assert [row[1] for row in pending] == ["processing"]
                for table in ("payments", "idempotency_keys"):
                    conn.execute(
                        sa.text(f"UPDATE {table} SET locked_until = '2000-01-01 00:00:00'")
                    )
            retry = http.post(
                f"{api}/v1/checkouts/{chk['id']}/payments", headers=headers, json=body
            )
            assert retry.status_code == 201, retry.text
            assert retry.json()["id"] == pending[0][0]
            assert retry.json()["status"] == "captured"
            assert _charges(emu) - before == 1
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 1
            engine.dispose()
    finally:
        stop_process(serve)
        stop_process(emulator)
