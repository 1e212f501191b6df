"""A card number anywhere in a request is refused before any handler, store or log sees it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from checkout.context import AppContext
from checkout.logs import configure_logging
from tests.integration.helpers import checkout_body, count

pytestmark = pytest.mark.anyio

PAN = "4242424242424242"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", stream)

    class Flushing(io.StringIO):
        def getvalue(self) -> str:
            for handler in root.handlers:
                handler.flush()
            return stream.getvalue()

    try:
        yield Flushing()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.mark.parametrize(
    "make_request",
    [
        lambda c: c.post("/v1/checkouts", json=checkout_body(email=f"{PAN}@example.com")),
        lambda c: c.post("/v1/checkouts", json=checkout_body(note="4242 4242 4242 4242")),
        lambda c: c.post("/v1/checkouts", json=checkout_body(card_number="x")),
        lambda c: c.post("/v1/checkouts", json=checkout_body(payment={"cvc": "123"})),
        lambda c: c.get("/v1/products", params={"q": "4242-4242-4242-4242"}),
        lambda c: c.get("/v1/products", headers={"X-Note": PAN}),
        lambda c: c.post(
            "/v1/checkouts/chk_1/payments", json={"provider": "stripe", "payment_token": PAN}
        ),
    ],
)
async def test_card_data_is_refused_and_reaches_neither_database_nor_logs(
    api: httpx.AsyncClient,
    ctx: AppContext,
    captured_logs: io.StringIO,
    make_request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
) -> None:
    r = await make_request(api)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "card_data_forbidden"
    assert PAN not in r.text and "4242 4242" not in r.text
    assert count(ctx, "checkouts") == 0 and count(ctx, "idempotency_keys") == 0
    logs = captured_logs.getvalue()
    assert (
        PAN not in logs and "4242-4242-4242-4242" not in logs and "4242 4242 4242 4242" not in logs
    )
    url = str(ctx.db.engine.url)
    if url.startswith("sqlite"):
        db_file = Path(url.removeprefix("sqlite:///"))
        for f in (db_file, db_file.with_name(db_file.name + "-wal")):
            if f.exists():
                assert PAN.encode() not in f.read_bytes()


async def test_the_log_filter_masks_card_numbers_and_emails(captured_logs: io.StringIO) -> None:
    logging.getLogger("anything").warning(
        "paid with %s by %s", PAN, "jane.doe@example.com", extra={"detail": f"card {PAN}"}
    )
    line = captured_logs.getvalue()
    assert PAN not in line and "jane.doe" not in line
    assert "4242" in line and "j***@example.com" in line


async def test_access_logs_carry_request_id_and_route_but_no_query(
    api: httpx.AsyncClient, captured_logs: io.StringIO
) -> None:
    r = await api.get("/v1/products", params={"currency": "USD", "email": "jane@example.com"})
    logs = captured_logs.getvalue()
    assert r.headers["x-request-id"] in logs
    records = [json.loads(line) for line in logs.splitlines()]
    rid = r.headers["x-request-id"]
    assert any(rec.get("route") == "/v1/products" and rec["request_id"] == rid for rec in records)
    assert "jane" not in logs


async def test_a_card_number_as_request_id_is_neither_echoed_nor_logged(
    api: httpx.AsyncClient, captured_logs: io.StringIO
) -> None:
    r = await api.get("/v1/products", headers={"X-Request-Id": PAN})
    assert r.status_code == 422
    assert r.headers["x-request-id"] != PAN and PAN not in r.text
    assert PAN not in captured_logs.getvalue()


async def test_credentials_in_any_log_record_are_masked(captured_logs: io.StringIO) -> None:
    logging.getLogger("paypalrestsdk.api").warning(
        "Request: Headers: {'Authorization': 'Bearer A21AAFakeToken.123-xyz'} "
        "Basic ZW11bGF0b3ItZGV2LWNsaWVudDpzZWNyZXQ="
    )
    logging.getLogger("paypalrestsdk.api").debug("Authorization: Bearer shouldnotappear")
    logs = captured_logs.getvalue()
    assert "A21AAFakeToken" not in logs and "ZW11bGF0b3I" not in logs
    assert "Bearer ***" in logs and "shouldnotappear" not in logs
