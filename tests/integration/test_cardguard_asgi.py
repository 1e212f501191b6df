"""The card-data guard in front of a real Starlette app, driven over ASGI by httpx."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from checkout.cardguard import CardDataGuard
from checkout.cardguard.middleware import MAX_BODY_BYTES
from checkout.web.edge import EdgeMiddleware, HttpMetrics

PAN = "4242424242424242"


class Recorder:
    """An app with one echo route that notes every body its handler was given."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.app = Starlette(
            routes=[Route("/{path:path}", self.echo, methods=["GET", "POST", "PUT", "PATCH"])]
        )

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        self.bodies.append(body)
        return Response(body, media_type="application/octet-stream")

    @property
    def called(self) -> bool:
        return bool(self.bodies)


def send(
    method: str,
    url: str,
    *,
    content: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    recorder: Recorder | None = None,
) -> tuple[httpx.Response, Recorder]:
    recorder = recorder or Recorder()
    guard = CardDataGuard(recorder.app)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, url, content=content, headers=headers)

    return asyncio.run(go()), recorder


def post_json(document: object) -> tuple[httpx.Response, Recorder]:
    return send(
        "POST",
        "/v1/checkouts",
        content=json.dumps(document),
        headers={"content-type": "application/json"},
    )


def assert_refused(response: httpx.Response, recorder: Recorder) -> None:
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "card_data_forbidden"
    assert not recorder.called
    # Without the request-id middleware the id is "-", so the body has no digits at all:
    # neither the card nor any part of it is echoed.
    assert not re.search(r"\d", response.text)


# --- refused ------------------------------------------------------------------------------


def test_card_in_json_body_is_refused() -> None:
    assert_refused(*post_json({"email": "a@example.com", "note": f"card {PAN}"}))


def test_card_in_nested_json_is_refused() -> None:
    assert_refused(*post_json({"lines": [{"sku": "tee", "meta": {"x": ["ok", f"{PAN}"]}}]}))


def test_card_as_json_number_is_refused() -> None:
    assert_refused(*post_json({"payment_token": int(PAN)}))


def test_unicode_escaped_card_in_json_is_refused() -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in PAN)
    body = '{"payment_token": "' + escaped + '"}'
    assert PAN not in body
    assert_refused(*send("POST", "/v1/checkouts", content=body))


def test_card_field_name_with_innocent_value_is_refused() -> None:
    assert_refused(*post_json({"provider": "stripe", "cvv": "hello"}))


def test_card_field_name_as_nested_key_is_refused() -> None:
    assert_refused(*post_json({"billing": {"card": {"cardNumber": ""}}}))


def test_card_under_a_duplicated_json_key_is_refused() -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in PAN)
    body = '{"note": "' + escaped + '", "note": "fine"}'
    assert_refused(*send("POST", "/v1/checkouts", content=body))


def test_card_in_query_is_refused() -> None:
    assert_refused(*send("GET", f"/staff/v1/orders?q={PAN}"))


def test_percent_encoded_card_in_query_is_refused() -> None:
    encoded = "%34%32%34%32%20" * 3 + "%34%32%34%32"
    assert_refused(*send("GET", f"/staff/v1/orders?q={encoded}"))


def test_plus_encoded_spaces_in_query_are_decoded_before_scanning() -> None:
    assert_refused(*send("GET", "/staff/v1/orders?q=4242+4242+4242+4242"))


def test_card_field_name_in_query_is_refused() -> None:
    assert_refused(*send("GET", "/v1/products?card%5Bnumber%5D=x"))


def test_card_in_path_is_refused() -> None:
    assert_refused(*send("GET", f"/v1/checkouts/{PAN}"))


def test_card_in_header_is_refused() -> None:
    assert_refused(*send("GET", "/v1/products", headers={"x-note": f"card {PAN}"}))


def test_card_field_name_as_header_is_refused() -> None:
    assert_refused(*send("GET", "/v1/products", headers={"X-Card-Number": "redacted"}))


def test_card_in_form_body_is_refused() -> None:
    assert_refused(
        *send(
            "POST",
            "/v1/checkouts",
            content="email=a%40example.com&note=4242%204242%204242%204242",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    )


def test_stripe_style_card_field_in_form_body_is_refused() -> None:
    assert_refused(
        *send(
            "POST",
            "/v1/checkouts",
            content="card%5Bcvc%5D=&amount=100",
            headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
    )


def test_card_field_in_multipart_body_is_refused() -> None:
    body = '--xyz\r\nContent-Disposition: form-data; name="cvc"\r\n\r\nhello\r\n--xyz--\r\n'
    assert_refused(
        *send(
            "POST",
            "/upload",
            content=body,
            headers={"content-type": "multipart/form-data; boundary=xyz"},
        )
    )


def test_refusal_carries_the_request_id() -> None:
    recorder = Recorder()
    app = EdgeMiddleware(
        CardDataGuard(recorder.app), listener="test", metrics=HttpMetrics(CollectorRegistry())
    )

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post("/v1/checkouts", content=f'{{"n": "{PAN}"}}')

    response = asyncio.run(go())
    assert response.status_code == 422
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
    assert PAN not in response.text
    assert not recorder.called


# --- passed on -----------------------------------------------------------------------------


def test_innocent_json_reaches_the_handler_byte_for_byte() -> None:
    body = (
        b'{"currency":"EUR","lines":[{"sku":"4006381333931","quantity":2}],'
        b'"email":"a@example.com","created_ms":1763841393000,"lat":51.50735134567891,'
        b'"id":"chk_4242424242424242","trace":"123e4567-e89b-12d3-a456-426614174000",'
        b'"phone":"+4915123456780","last4":"4242"}'
    )
    response, recorder = send(
        "POST", "/v1/checkouts", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert recorder.bodies == [body]
    assert response.content == body


def test_non_utf8_body_reaches_the_handler_byte_for_byte() -> None:
    body = bytes(range(256)) * 4
    response, recorder = send("PUT", "/blob", content=body)
    assert response.status_code == 200
    assert recorder.bodies == [body]


def test_empty_body_reaches_the_handler() -> None:
    response, recorder = send("POST", "/v1/checkouts/chk_1/payments/pay_1/refresh", content=b"")
    assert response.status_code == 200
    assert recorder.bodies == [b""]


def test_get_with_innocent_query_and_headers_reaches_the_handler() -> None:
    response, recorder = send(
        "GET",
        "/staff/v1/orders?limit=20&starting_after=ord_4242424242424242&q=jane",
        headers={"authorization": "Bearer sk_test_abc", "x-request-id": "req_1234567890"},
    )
    assert response.status_code == 200
    assert recorder.bodies == [b""]


def test_innocent_form_body_reaches_the_handler() -> None:
    body = b"email=a%40example.com&company=Acme&span=3"
    response, recorder = send(
        "POST",
        "/form",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert recorder.bodies == [body]


# --- body size --------------------------------------------------------------------------


def test_body_over_one_mebibyte_is_refused_as_too_large() -> None:
    response, recorder = send("POST", "/v1/checkouts", content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not recorder.called


def test_declared_length_over_one_mebibyte_is_refused_before_reading() -> None:
    sent, received = run_raw([], headers=[(b"content-length", str(MAX_BODY_BYTES + 1).encode())])
    assert not received
    assert sent[0]["status"] == 413


def test_malformed_content_length_does_not_break_the_guard() -> None:
    sent, received = run_raw(
        [{"type": "http.request", "body": b"{}", "more_body": False}],
        headers=[(b"content-length", b"\xb2")],
    )
    assert received[0]["body"] == b"{}"
    assert sent[0]["status"] == 204


def test_streamed_body_over_one_mebibyte_is_refused_without_a_length() -> None:
    chunks = [b"x" * 65536] * 17
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    sent, received = run_raw(messages, headers=[])
    assert not received
    assert sent[0]["status"] == 413


# --- raw ASGI ------------------------------------------------------------------------------


def run_raw(
    incoming: list[Message],
    *,
    headers: list[tuple[bytes, bytes]],
    scope_type: str = "http",
    http_version: str | None = None,
) -> tuple[list[Message], list[Message]]:
    """Drive the guard with exact ASGI messages; return what it sent and what the app got."""
    sent: list[Message] = []
    app_received: list[Message] = []
    queue = list(incoming)

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send_(message: Message) -> None:
        sent.append(message)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            app_received.append(await receive())
            app_received.append(await receive())
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        else:
            app_received.append({"type": "seen", "scope_type": scope["type"]})

    scope: Scope = {
        "type": scope_type,
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": headers,
    }
    if http_version is not None:
        scope["http_version"] = http_version
    asyncio.run(CardDataGuard(app)(scope, receive, send_))
    return sent, app_received


def test_chunked_body_is_replayed_as_one_message_then_disconnect_passes_through() -> None:
    sent, received = run_raw(
        [
            {"type": "http.request", "body": b'{"a": ', "more_body": True},
            {"type": "http.request", "body": b'"b"}', "more_body": False},
            {"type": "http.disconnect"},
        ],
        headers=[(b"content-type", b"application/json")],
    )
    assert received == [
        {"type": "http.request", "body": b'{"a": "b"}', "more_body": False},
        {"type": "http.disconnect"},
    ]
    assert sent[0]["status"] == 204


def test_card_split_across_chunks_is_refused() -> None:
    sent, received = run_raw(
        [
            {"type": "http.request", "body": b'{"n": "42424242', "more_body": True},
            {"type": "http.request", "body": b'42424242"}', "more_body": False},
        ],
        headers=[],
    )
    assert received == []
    assert sent[0]["status"] == 422


def test_client_gone_before_the_body_ends_reaches_no_handler() -> None:
    sent, received = run_raw(
        [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}],
        headers=[],
    )
    assert sent == []
    assert received == []


def test_non_http_scopes_pass_straight_through() -> None:
    sent, received = run_raw([], headers=[], scope_type="lifespan")
    assert received == [{"type": "seen", "scope_type": "lifespan"}]
    assert sent == []


def test_an_http2_body_without_length_headers_is_still_read_and_scanned() -> None:
    # HTTP/2 frames a body without Content-Length or Transfer-Encoding: the guard's
    # no-body shortcut is for HTTP/1.x only, where such a request has no body at all.
    card: list[Message] = [
        {"type": "http.request", "body": b'{"n": "4242424242424242"}', "more_body": False}
    ]
    sent, received = run_raw(card, headers=[], http_version="2")
    assert received == []
    assert sent[0]["status"] == 422


def test_an_http1_request_without_length_headers_goes_through_unread() -> None:
    # No Content-Length, no Transfer-Encoding: HTTP/1.1 has no body there, so the app
    # gets the server's own receive, untouched (nothing buffered, nothing replayed).
    server_message: Message = {"type": "http.request", "body": b"", "more_body": False}
    sent, received = run_raw(
        [server_message], headers=[(b"host", b"shop.test")], http_version="1.1"
    )
    assert received[0] is server_message  # a replay would hand over a copy
    assert received[1] == {"type": "http.disconnect"}
    assert sent[0]["status"] == 204
