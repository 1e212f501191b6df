"""A worker process killed with SIGKILL mid-batch: after a restart nothing is lost and
nothing is applied twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import build_context
from checkout.seed import seed_demo_catalog
from checkout.web.factory import create_public_app
from providers.stripe.webhook import sign
from tests.conftest import make_settings, tokenize
from tests.e2e.served import CHECKOUT, free_port
from tests.integration.helpers import checkout_body

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

SECRET = "sk_test_emulator_dev"
CARD_3DS = "4000002760003184"


async def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "providers.stripe_emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    emu = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {SECRET}"}
    worker: subprocess.Popen[str] | None = None
    try:
        assert emulator.stdout is not None and "ready on" in emulator.stdout.readline()
        settings = make_settings(db_url, tmp_path / "data", emu)
        ctx = build_context(settings)
        seed_demo_catalog(ctx.catalog)
        hook_secret = str(settings.stripe_webhook_secrets[0])
        transport = httpx.ASGITransport(app=create_public_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            for i in range(12):
                chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
                with httpx.Client() as http:
                    pm = tokenize(http, emu, CARD_3DS)
                pay = (
                    await api.post(
                        f"/v1/checkouts/{chk['id']}/payments",
                        headers={"X-Checkout-Secret": chk["client_secret"]},
                        json={
                            "provider": "stripe",
                            "payment_token": pm,
                            "return_url": "https://shop.example/r",
                        },
                    )
                ).json()
                url = httpx.URL(pay["next_action"]["url"])
                httpx.post(
                    f"{emu}{url.path}/complete",
                    data={"outcome": "succeed", "token": url.params["token"]},
                )
                pi = url.path.split("/")[-1]
                body = json.dumps(
                    {
                        "id": f"evt_{i}",
                        "type": "payment_intent.succeeded",
                        "data": {
                            "object": {
                                "id": pi,
                                "object": "payment_intent",
                                "metadata": {"payment_id": pay["id"]},
                            }
                        },
                    }
                ).encode()
                r = await api.post(
                    "/webhooks/stripe",
                    content=body,
                    headers={"Stripe-Signature": sign(body, hook_secret)},
                )
                assert r.status_code == 200
        await ctx.aclose()
        # Half the lookups at the provider take 5 s: the other half's payments settle at
        # once, while the batch's outcomes, recorded together when it is done, wait.
        httpx.post(
            f"{emu}/_emulator/faults",
            headers=auth,
            json={
                "fault": "delay",
                "method": "GET",
                "path_prefix": "/v1/payment_intents",
                "delay_ms": 5000,
                "times": 6,
            },
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
        env.update(
            CHECKOUT_DATA_DIR=str(tmp_path / "data"),
            DATABASE_URL=db_url,
            CHECKOUT_STRIPE_API_BASE=emu,
            CHECKOUT_STRIPE_SECRET_KEY=SECRET,
            CHECKOUT_STRIPE_WEBHOOK_SECRETS=hook_secret,
        )
        worker = subprocess.Popen(
            [CHECKOUT, "worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert worker.stdout is not None and "worker loop running" in worker.stdout.readline()
        engine = sa.create_engine(db_url)

        def count(query: str) -> int:
            with engine.connect() as conn:
                return int(conn.execute(sa.text(query)).scalar_one())

        settled = "SELECT COUNT(*) FROM payments WHERE status = 'captured'"
        deadline = time.monotonic() + 20
        while count(settled) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        # Killed mid-batch: some payments settled, no outcome recorded, nothing lost.
        assert 2 <= count(settled) < 12
        delivered = ", ".join(f"'evt_{i}'" for i in range(12))
        assert (
            count(
                "SELECT COUNT(*) FROM webhook_events "
                f"WHERE status = 'pending' AND event_id IN ({delivered})"
            )
            == 12
        )
        # The dead worker's claims expire (simulated), and a new worker finishes the job.
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE webhook_events SET next_attempt_at = "
                    "'2000-01-01 00:00:00' WHERE status = 'pending'"
                )
            )
        httpx.request("DELETE", f"{emu}/_emulator/faults", headers=auth)
        once = subprocess.run(
            [CHECKOUT, "worker", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert once.returncode == 0, once.stderr
        with engine.connect() as conn:
            # Only the events delivered above: the worker's reconciliation also files the
            # emulator's own events from its event list, about the same payments.
            statuses = conn.execute(
                sa.text(
                    "SELECT status, COUNT(*) FROM webhook_events "
                    "WHERE event_id IN :ids GROUP BY status"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": [f"evt_{i}" for i in range(12)]},
            ).all()
            payments = conn.execute(
                sa.text("SELECT status, COUNT(*) FROM payments GROUP BY status")
            ).all()
            orders = conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one()
        engine.dispose()
        assert dict(statuses) == {"processed": 12}
        assert dict(payments) == {"captured": 12}
        assert orders == 12
    finally:
        for proc in (worker, emulator):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc is not None and proc.stdout is not None:
                proc.stdout.close()
