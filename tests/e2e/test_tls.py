"""TLS on both listeners of a real ``checkout serve``, with a self-signed certificate,
checked the way sslyze does it: nassl (sslyze's OpenSSL bindings, with a legacy OpenSSL
that can still speak TLS 1.0 and 1.1 and the old suites) offers every protocol version and
every cipher suite it knows, one at a time, and we see which handshakes succeed.

sslyze itself pins ``cryptography<47``, which would downgrade the project's own
cryptography, so the scan uses its engine directly.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from nassl.legacy_ssl_client import LegacySslClient
from nassl.ssl_client import OpenSslVerifyEnum, OpenSslVersionEnum, SslClient

from tests.e2e.served import CHECKOUT, free_port, serve_env, stop_process, wait_ready
from tests.e2e.tls_certs import self_signed

pytestmark = pytest.mark.e2e

Client = type[SslClient] | type[LegacySslClient]


@dataclass
class TlsServed:
    public_port: int
    private_port: int
    cert: Path


@pytest.fixture(scope="module")
def tls_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServed]:
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(tmp)
    ports = {name: free_port() for name in ("public", "private", "stripe", "paypal")}
    env = serve_env(f"sqlite:///{tmp / 'checkout.db'}", tmp / "data", ports)
    env.update(
        CHECKOUT_PUBLIC_TLS_CERT=str(cert),
        CHECKOUT_PUBLIC_TLS_KEY=str(key),
        CHECKOUT_PRIVATE_TLS_CERT=str(cert),
        CHECKOUT_PRIVATE_TLS_KEY=str(key),
        CHECKOUT_RATE_LIMITS="sign_in=2/60",
    )
    with (tmp / "serve.log").open("w") as err:
        proc = subprocess.Popen(
            [CHECKOUT, "serve"], env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        try:
            lines = wait_ready(proc, 4, timeout=60)
            assert f"public listener ready on https://127.0.0.1:{ports['public']}" in lines
            assert f"private listener ready on https://127.0.0.1:{ports['private']}" in lines
            yield TlsServed(ports["public"], ports["private"], cert)
        finally:
            stop_process(proc)


def handshake(
    port: int, version: OpenSslVersionEnum, ciphers: str, client: Client = SslClient
) -> str | None:
    """The suite the server chose, or None if it refused the handshake."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    tls = client(underlying_socket=sock, ssl_version=version, ssl_verify=OpenSslVerifyEnum.NONE)
    try:
        if version == OpenSslVersionEnum.TLSV1_3:
            tls.set_ciphersuites(ciphers)  # type: ignore[union-attr]
        else:
            tls.set_cipher_list(ciphers)
        tls.do_handshake()
        return tls.get_current_cipher_name()
    except Exception:  # nassl raises OpenSSLError or socket errors for a refusal
        return None
    finally:
        sock.close()


def offered(version: OpenSslVersionEnum, client: Client) -> list[str]:
    probe = client(ssl_version=version, ssl_verify=OpenSslVerifyEnum.NONE)
    probe.set_cipher_list("ALL:COMPLEMENTOFALL")
    return list(probe.get_cipher_list())


def accepted(port: int, version: OpenSslVersionEnum, client: Client) -> set[str]:
    return {
        name
        for name in offered(version, client)
        if handshake(port, version, name, client) is not None
    }


def is_forward_secret_aead(suite: str) -> bool:
    return suite.startswith("ECDHE-") and ("-GCM-" in suite or "CHACHA20-POLY1305" in suite)


@pytest.mark.parametrize("listener", ["public", "private"])
def test_tls_1_0_and_1_1_are_refused_with_every_suite(tls_served: TlsServed, listener: str) -> None:
    port = tls_served.public_port if listener == "public" else tls_served.private_port
    # The legacy client can do TLS 1.2 with us, so its refusals below are the server's.
    assert (
        handshake(
            port, OpenSslVersionEnum.TLSV1_2, "ECDHE-ECDSA-AES128-GCM-SHA256", LegacySslClient
        )
        == "ECDHE-ECDSA-AES128-GCM-SHA256"
    )
    for version in (OpenSslVersionEnum.TLSV1, OpenSslVersionEnum.TLSV1_1):
        assert accepted(port, version, LegacySslClient) == set(), version


@pytest.mark.parametrize("listener", ["public", "private"])
def test_tls_1_2_accepts_only_ecdhe_aead_suites(tls_served: TlsServed, listener: str) -> None:
    port = tls_served.public_port if listener == "public" else tls_served.private_port
    suites = accepted(port, OpenSslVersionEnum.TLSV1_2, SslClient) | accepted(
        port, OpenSslVersionEnum.TLSV1_2, LegacySslClient
    )
    assert suites == {
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    }
    assert all(is_forward_secret_aead(s) for s in suites)


def test_weak_suites_are_refused_by_name(tls_served: TlsServed) -> None:
    port = tls_served.public_port
    weak = [
        "ECDHE-ECDSA-AES128-SHA",  # forward secret, not AEAD (CBC)
        "ECDHE-ECDSA-AES256-SHA384",
        "AES128-GCM-SHA256",  # AEAD, no forward secrecy
        "AES128-SHA",
        "DES-CBC3-SHA",
        "ECDHE-ECDSA-NULL-SHA",
        "AECDH-AES128-SHA",  # anonymous
    ]
    for suite in weak:
        assert handshake(port, OpenSslVersionEnum.TLSV1_2, suite, LegacySslClient) is None, suite
    for suite in ("RC4-SHA", "ECDHE-ECDSA-RC4-SHA"):
        assert handshake(port, OpenSslVersionEnum.TLSV1_2, suite, LegacySslClient) is None, suite


def test_tls_1_3_works(tls_served: TlsServed) -> None:
    for suite in (
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
    ):
        assert handshake(tls_served.public_port, OpenSslVersionEnum.TLSV1_3, suite) == suite


def test_https_responses_carry_hsts_on_the_public_listener_only(tls_served: TlsServed) -> None:
    verify = ssl.create_default_context(cafile=str(tls_served.cert))
    with httpx.Client(verify=verify, timeout=10) as http:
        public = http.get(f"https://127.0.0.1:{tls_served.public_port}/v1/products")
        private = http.get(f"https://localhost:{tls_served.private_port}/healthz")
    assert public.status_code == 200 and private.status_code == 200
    assert public.headers["strict-transport-security"].startswith("max-age=63072000")
    assert "strict-transport-security" not in private.headers
    for response in (public, private):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_plain_http_to_the_tls_listener_fails_and_the_listener_stays_up(
    tls_served: TlsServed,
) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_served.public_port}/v1/products", timeout=5)
    with socket.create_connection(("127.0.0.1", tls_served.public_port), timeout=5) as sock:
        sock.sendall(b"GET /v1/products HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = sock.recv(4096)
    assert not reply.startswith(b"HTTP/1.1 200")
    verify = ssl.create_default_context(cafile=str(tls_served.cert))
    r = httpx.get(f"https://127.0.0.1:{tls_served.public_port}/v1/products", verify=verify)
    assert r.status_code == 200


def test_x_forwarded_for_is_ignored_without_trusted_proxies(tls_served: TlsServed) -> None:
    verify = ssl.create_default_context(cafile=str(tls_served.cert))
    url = f"https://127.0.0.1:{tls_served.public_port}/v1/sessions"
    body = {"email": "nobody@example.com", "password": "not the password"}
    with httpx.Client(verify=verify, timeout=30) as http:
        answers = [
            http.post(url, json=body, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
            for n in range(3)
        ]
    assert answers == [401, 401, 429]
