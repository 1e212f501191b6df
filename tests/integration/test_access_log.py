"""The access log: one JSON line per request with the route template, never the path."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from checkout.context import AppContext
from checkout.logs import BatchingStreamHandler, configure_logging

pytestmark = pytest.mark.anyio


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        yield stream
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    for h in logging.getLogger().handlers:
        if isinstance(h, BatchingStreamHandler):
            h.flush()
    return [json.loads(x) for x in stream.getvalue().splitlines() if x.strip()]


async def test_each_request_is_one_line_with_the_route_template(
    api: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    r = await api.get("/v1/checkouts/chk_secretlooking123", headers={"X-Checkout-Secret": "x"})
    assert r.status_code == 404
    access = [x for x in _lines(log_stream) if x["logger"] == "checkout.access"]
    assert len(access) == 1
    (line,) = access
    assert line["route"] == "/v1/checkouts/{checkout_id}" and line["status"] == 404
    assert line["method"] == "GET" and line["listener"] == "public" and line["msg"] == "request"
    assert line["request_id"] == r.headers["x-request-id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", str(line["ts"]))
    assert "chk_secretlooking123" not in log_stream.getvalue()


async def test_without_the_json_handler_it_logs_the_ordinary_way(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="checkout.access"):
        await api.get("/v1/products")
    (record,) = [r for r in caplog.records if r.name == "checkout.access"]
    assert record.getMessage() == "request" and record.__dict__["route"] == "/v1/products"


async def test_an_email_searched_for_on_the_private_listener_is_not_logged(
    ctx: AppContext, private_api: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    from checkout.access.scopes import Scope

    _, secret = ctx.api_keys.create(frozenset({Scope.ORDERS_READ}))
    headers = {"Authorization": f"Bearer {secret}"}
    ok = await private_api.get("/s2s/v1/orders?q=wanted.person@example.com", headers=headers)
    bad = await private_api.get(
        "/s2s/v1/orders?q=wanted.person@example.com&limit=0", headers=headers
    )
    assert ok.status_code == 200 and bad.status_code == 422
    assert "wanted.person" not in bad.text
    access = [x for x in _lines(log_stream) if x["logger"] == "checkout.access"]
    assert {x["route"] for x in access} == {"/s2s/v1/orders"}
    assert "wanted.person" not in log_stream.getvalue() and secret not in log_stream.getvalue()
