"""The test-only recorder writes down each request as it arrived, refused or not."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from checkout.web.recording import RequestRecorder

pytestmark = pytest.mark.anyio


async def test_every_request_is_recorded_with_its_body_and_headers(tmp_path: Path) -> None:
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    record = tmp_path / "requests.jsonl"
    transport = httpx.ASGITransport(app=RequestRecorder(app, path=record, listener="public"))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.post("/echo?a=1", content=b"hello", headers={"X-Probe": "yes"})
        await client.get("/missing")
    first, second = [json.loads(line) for line in record.read_text().splitlines()]
    assert (first["listener"], first["method"], first["path"]) == ("public", "POST", "/echo")
    assert first["query"] == "a=1"
    assert ["x-probe", "yes"] in first["headers"]
    assert base64.b64decode(first["body_b64"]) == b"hello"
    assert (second["method"], second["path"]) == ("GET", "/missing")
