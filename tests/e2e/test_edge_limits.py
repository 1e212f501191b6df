"""Security headers, request limits and rate limits on a real ``checkout serve``, with
small limits configured, and the loopback address as a trusted proxy."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.served import CHECKOUT, Served, free_port, serve_env, stop_process, wait_ready

pytestmark = pytest.mark.e2e

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cache-control": "no-store",
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("limits")
    ports = {name: free_port() for name in ("public", "private", "stripe", "paypal")}
    env = serve_env(f"sqlite:///{tmp / 'checkout.db'}", tmp / "data", ports)
    env.update(
        CHECKOUT_RATE_LIMITS="sign_in=3/60,checkout_create=2/60,webhook=2/60,payment=2/60",
        CHECKOUT_TRUSTED_PROXIES="127.0.0.1",
        CHECKOUT_HEADER_TIMEOUT="1",
    )
    log = tmp / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [CHECKOUT, "serve"], env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        try:
            wait_ready(proc, 4, timeout=60)
            yield Served(proc, ports, log)
        finally:
            stop_process(proc)


def raw_request(port: int, request: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def split(reply: bytes) -> tuple[str, dict[str, str], dict[str, object]]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return lines[0], headers, json.loads(body)


def test_every_response_of_both_listeners_carries_the_security_headers(limited: Served) -> None:
    with httpx.Client(timeout=10) as http:
        responses = [
            http.get(f"{limited.api}/v1/products"),
            http.get(f"{limited.api}/no/such/route"),
            http.post(f"{limited.api}/v1/checkouts/chk_x", json={}),  # 405
            http.get(f"{limited.api}/v1/me"),  # 401
            http.get(f"{limited.private}/healthz"),
            http.get(f"{limited.private}/s2s/v1/orders"),  # 401
        ]
    for r in responses:
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (r.request.url, name)
        assert "strict-transport-security" not in r.headers  # plain HTTP, no proxy said https
        assert r.headers["x-request-id"]


def test_hsts_when_a_trusted_proxy_says_the_client_came_over_https(limited: Served) -> None:
    r = httpx.get(f"{limited.api}/v1/products", headers={"X-Forwarded-Proto": "https"})
    assert r.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    private = httpx.get(f"{limited.private}/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in private.headers


def test_a_100_kib_header_is_refused_with_431_and_the_server_stays_up(limited: Served) -> None:
    port = limited.ports["public"]
    big = b"GET /v1/products HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100 * 1024 + b"\r\n\r\n"
    status, headers, body = split(raw_request(port, big))
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"
    assert headers["connection"] == "close"
    assert headers["x-content-type-options"] == "nosniff"
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "head_too_large"
    assert error["request_id"] == headers["x-request-id"]
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(300))
    status, _, _ = split(raw_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"))
    assert status.startswith("HTTP/1.1 431")
    assert httpx.get(f"{limited.api}/v1/products").status_code == 200


def test_headers_that_do_not_arrive_in_time_get_408(limited: Served) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", limited.ports["public"]), timeout=10) as sock:
        sock.sendall(b"GET /v1/products HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.4)
        sock.sendall(b"X-Slow: 1\r\n")  # a trickle does not extend the deadline
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    status, _, body = split(reply)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert 0.9 < time.monotonic() - started < 5
    assert isinstance(body["error"], dict) and body["error"]["code"] == "request_timeout"


def test_an_idle_connection_that_never_sends_a_request_is_closed(limited: Served) -> None:
    with socket.create_connection(("127.0.0.1", limited.ports["public"]), timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(4096) == b""
    assert time.monotonic() - started < 5


def test_body_and_depth_limits_hold_over_http(limited: Served) -> None:
    with httpx.Client(timeout=10) as http:
        big = http.post(
            f"{limited.api}/v1/customers",
            content=b'{"x": "' + b"a" * (64 * 1024) + b'"}',
            headers={"Content-Type": "application/json", "X-Forwarded-For": "192.0.2.50"},
        )
        deep = http.patch(
            f"{limited.api}/v1/checkouts/chk_nope",
            content=b'{"a":' * 40 + b"1" + b"}" * 40,
            headers={"Content-Type": "application/json"},
        )
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
    assert deep.status_code in (404, 422)  # the route checks access first; never a 500
    assert big.headers["cache-control"] == "no-store"


def _sign_in(http: httpx.Client, base: str, address: str) -> httpx.Response:
    return http.post(
        f"{base}/v1/sessions",
        json={"email": "nobody@example.com", "password": "not the password"},
        headers={"X-Forwarded-For": address},
    )


def test_sign_in_is_rate_limited_per_client_address(limited: Served) -> None:
    with httpx.Client(timeout=30) as http:
        answers = [_sign_in(http, limited.api, "198.51.100.1").status_code for _ in range(3)]
        assert answers == [401, 401, 401]
        r = _sign_in(http, limited.api, "198.51.100.1")
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 20
        error = r.json()["error"]
        assert error["code"] == "rate_limited" and error["request_id"] == r.headers["x-request-id"]
        assert r.headers["x-content-type-options"] == "nosniff"
        # The staff sign-in and sign-up share the group: the same address is limited there.
        staff = http.post(
            f"{limited.api}/staff/v1/sessions",
            json={},
            headers={"X-Forwarded-For": "198.51.100.1"},
        )
        assert staff.status_code == 429
        # Another client (as the trusted proxy reports it) has its own bucket.
        assert _sign_in(http, limited.api, "198.51.100.2").status_code == 401
        # Other routes are not limited for the first one.
        products = http.get(
            f"{limited.api}/v1/products", headers={"X-Forwarded-For": "198.51.100.1"}
        )
        assert products.status_code == 200


def test_checkout_creation_payment_and_webhooks_are_rate_limited(limited: Served) -> None:
    me = {"X-Forwarded-For": "203.0.113.77"}
    with httpx.Client(timeout=30, headers=me) as http:
        created = [
            http.post(f"{limited.api}/v1/checkouts", json={"currency": "USD", "lines": []})
            for _ in range(3)
        ]
        assert [r.status_code for r in created[:2]] != [429, 429]
        assert created[2].status_code == 429
        pay = [
            http.post(f"{limited.api}/v1/checkouts/chk_none/payments", json={}) for _ in range(3)
        ]
        assert [r.status_code for r in pay] == [404, 404, 429] or pay[2].status_code == 429
        hooks = [http.post(f"{limited.api}/webhooks/stripe", content=b"{}") for _ in range(3)]
        assert [r.status_code for r in hooks] == [400, 400, 429]
        assert hooks[2].json()["error"]["code"] == "rate_limited"
