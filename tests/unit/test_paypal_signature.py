"""Offline PayPal webhook signature verification (providers/paypal/webhook_signature.py).

A test CA and leaf certificates are built with cryptography; a fake fetcher records every
URL it is asked for, so the refusal tests can prove no fetch (hence no connection) happened.
"""

from __future__ import annotations

import asyncio
import base64
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from providers.paypal.webhook_signature import (
    CertFetcher,
    PayPalVerifier,
    SignatureError,
    allowed_cert_url,
    httpx_fetcher,
    sign,
)

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
WEBHOOK_ID = "WH-1TEST0000000000A"
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-1"
PAYPAL_HOST = "messageverificationcerts.paypal.com"
BODY = b'{"id":"WH-EVT-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"C1"}}'


# --- certificates -------------------------------------------------------------------------


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class CA:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _make_ca(name: str) -> CA:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=365))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return CA(key, cert)


def _make_leaf(
    ca: CA,
    key: rsa.RSAPrivateKey,
    *,
    host: str = PAYPAL_HOST,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=335),
) -> bytes:
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class PKI:
    ca: CA
    leaf_key: rsa.RSAPrivateKey
    leaf_pem: bytes
    expired_pem: bytes
    foreign_pem: bytes
    other_host_pem: bytes


@pytest.fixture(scope="module")
def pki() -> PKI:
    ca = _make_ca("Test Root CA")
    foreign = _make_ca("Foreign Root CA")
    leaf_key = _key()
    return PKI(
        ca=ca,
        leaf_key=leaf_key,
        leaf_pem=_make_leaf(ca, leaf_key),
        expired_pem=_make_leaf(
            ca,
            leaf_key,
            not_before=NOW - timedelta(days=400),
            not_after=NOW - timedelta(days=35),
        ),
        foreign_pem=_make_leaf(foreign, leaf_key),
        other_host_pem=_make_leaf(ca, leaf_key, host="messageverificationcerts.example.com"),
    )


# --- fetcher and helpers ------------------------------------------------------------------


@dataclass
class FakeFetcher:
    """Serves PEMs by URL and records every URL it was asked for."""

    pems: dict[str, bytes]
    fail_first: int = 0
    urls: list[str] = field(default_factory=list)

    async def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        if self.fail_first > 0:
            self.fail_first -= 1
            raise httpx.ConnectTimeout("simulated")
        try:
            return self.pems[url]
        except KeyError:
            raise httpx.HTTPStatusError(
                "404",
                request=httpx.Request("GET", url),
                response=httpx.Response(404),
            ) from None


def _verifier(pki: PKI, fetcher: FakeFetcher, *, cache_size: int = 32) -> PayPalVerifier:
    return PayPalVerifier(
        webhook_id=WEBHOOK_ID,
        ca_bundle_pem=pki.ca.pem,
        fetch=fetcher,
        clock=lambda: NOW,
        cache_size=cache_size,
    )


def _headers(
    pki: PKI,
    *,
    body: bytes = BODY,
    transmission_id: str = "b2b5a7b0-3a2f-11f0-9d8e-0242ac120002",
    at: datetime = NOW,
    webhook_id: str = WEBHOOK_ID,
    cert_url: str = CERT_URL,
    algo: str = "SHA256withRSA",
) -> dict[str, str]:
    time_str = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = sign(
        key=pki.leaf_key,
        transmission_id=transmission_id,
        transmission_time=time_str,
        webhook_id=webhook_id,
        body=body,
    )
    return {
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": time_str,
        "PAYPAL-TRANSMISSION-SIG": sig,
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": algo,
        "Content-Type": "application/json",
    }


def _run(v: PayPalVerifier, headers: dict[str, str], body: bytes = BODY) -> None:
    asyncio.run(v.verify(headers, body))


def _refused(v: PayPalVerifier, headers: dict[str, str], body: bytes = BODY) -> str:
    with pytest.raises(SignatureError) as info:
        _run(v, headers, body)
    return str(info.value)


@pytest.fixture
def fetcher(pki: PKI) -> FakeFetcher:
    return FakeFetcher({CERT_URL: pki.leaf_pem})


# --- the happy path -----------------------------------------------------------------------


def test_valid_signature_verifies(pki: PKI, fetcher: FakeFetcher) -> None:
    _run(_verifier(pki, fetcher), _headers(pki))
    assert fetcher.urls == [CERT_URL]


def test_header_names_are_case_insensitive(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = {k.lower(): v for k, v in _headers(pki).items()}
    _run(_verifier(pki, fetcher), headers)


def test_chain_with_intermediate_verifies(pki: PKI) -> None:
    intermediate_key = _key()
    inter_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Issuing CA")]))
        .issuer_name(pki.ca.cert.subject)
        .public_key(intermediate_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=100))
        .not_valid_after(NOW + timedelta(days=1000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(intermediate_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.ca.key.public_key()),
            critical=False,
        )
        .sign(pki.ca.key, hashes.SHA256())
    )
    intermediate = CA(intermediate_key, inter_cert)
    pem = _make_leaf(intermediate, pki.leaf_key) + intermediate.pem
    fetcher = FakeFetcher({CERT_URL: pem})
    _run(_verifier(pki, fetcher), _headers(pki))


# --- signature refusals -------------------------------------------------------------------


def test_changed_body_byte_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    tampered = bytearray(BODY)
    tampered[-3] ^= 0x01
    assert _refused(_verifier(pki, fetcher), _headers(pki), bytes(tampered)) == (
        "signature does not match"
    )


def test_signature_for_another_webhook_id_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki, webhook_id="WH-SOMEONE-ELSE")
    assert _refused(_verifier(pki, fetcher), headers) == "signature does not match"


def test_sha1_signature_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki)
    crc = zlib.crc32(BODY)
    message = (
        f"{headers['PAYPAL-TRANSMISSION-ID']}|{headers['PAYPAL-TRANSMISSION-TIME']}|"
        f"{WEBHOOK_ID}|{crc}"
    ).encode()
    sha1_sig = pki.leaf_key.sign(message, padding.PKCS1v15(), hashes.SHA1())
    headers["PAYPAL-TRANSMISSION-SIG"] = base64.b64encode(sha1_sig).decode()
    assert _refused(_verifier(pki, fetcher), headers) == "signature does not match"


def test_sha1withrsa_algorithm_is_refused_before_any_fetch(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki, algo="SHA1withRSA")
    assert _refused(_verifier(pki, fetcher), headers) == "unsupported signature algorithm"
    assert fetcher.urls == []


def test_garbage_base64_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki)
    headers["PAYPAL-TRANSMISSION-SIG"] = "not*base64!!"
    assert _refused(_verifier(pki, fetcher), headers) == "malformed signature"
    assert fetcher.urls == []


def test_valid_base64_of_wrong_bytes_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki)
    headers["PAYPAL-TRANSMISSION-SIG"] = base64.b64encode(b"\x00" * 256).decode()
    assert _refused(_verifier(pki, fetcher), headers) == "signature does not match"


# --- time window --------------------------------------------------------------------------


def test_transmission_time_too_old_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki, at=NOW - timedelta(minutes=6))
    assert _refused(_verifier(pki, fetcher), headers) == (
        "transmission time outside the allowed window"
    )
    assert fetcher.urls == []


def test_transmission_time_too_far_in_future_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki, at=NOW + timedelta(minutes=6))
    assert _refused(_verifier(pki, fetcher), headers) == (
        "transmission time outside the allowed window"
    )


def test_transmission_time_inside_window_verifies(pki: PKI, fetcher: FakeFetcher) -> None:
    v = _verifier(pki, fetcher)
    _run(v, _headers(pki, at=NOW - timedelta(minutes=4)))
    _run(v, _headers(pki, at=NOW + timedelta(minutes=4)))


@pytest.mark.parametrize("value", ["yesterday", "2025-06-01T12:00:00", ""])
def test_unparsable_or_naive_time_is_refused(pki: PKI, fetcher: FakeFetcher, value: str) -> None:
    headers = _headers(pki)
    headers["PAYPAL-TRANSMISSION-TIME"] = value
    _refused(_verifier(pki, fetcher), headers)
    assert fetcher.urls == []


# --- certificates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "reason"),
    [
        ("expired_pem", "certificate not trusted"),
        ("foreign_pem", "certificate not trusted"),
        ("other_host_pem", "certificate not issued to paypal.com"),
    ],
    ids=["expired", "foreign-ca", "other-host"],
)
def test_untrusted_certificates_are_refused(pki: PKI, which: str, reason: str) -> None:
    fetcher = FakeFetcher({CERT_URL: getattr(pki, which)})
    assert _refused(_verifier(pki, fetcher), _headers(pki)) == reason
    assert fetcher.urls == [CERT_URL]


def test_cached_certificate_that_expires_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    clock_now = [NOW]
    v = PayPalVerifier(
        webhook_id=WEBHOOK_ID,
        ca_bundle_pem=pki.ca.pem,
        fetch=fetcher,
        clock=lambda: clock_now[0],
    )
    _run(v, _headers(pki))
    clock_now[0] = NOW + timedelta(days=400)
    assert _refused(v, _headers(pki, at=clock_now[0])) == "certificate not trusted"
    assert fetcher.urls == [CERT_URL]


def test_unreadable_certificate_is_refused(pki: PKI) -> None:
    fetcher = FakeFetcher({CERT_URL: b"<html>hello</html>"})
    assert _refused(_verifier(pki, fetcher), _headers(pki)) == "certificate unreadable"


# --- certificate URLs ---------------------------------------------------------------------

REFUSED_URLS = [
    "http://127.0.0.1:8443/cert",
    "https://api.paypal.com.evil.test/cert",
    "file:///etc/passwd",
    "https://paypal.com@evil.test/x",
    "https://api.paypal.com:8443/x",
    "http://api.paypal.com/v1/notifications/certs/CERT-1",
    "https://evilpaypal.com/x",
    "https://localhost/x",
    "https://[::1]/x",
    "https://user:pw@api.paypal.com/x",
    "https://api.paypal.com",
    "https://api.paypal.com/",
    "https://api.paypal.com:abc/x",
    "https://api.paypal.com\\@evil.test/x",
    "https://api.paypal.com%2eevil.test/x",
    "https://api.paypal.com./x",
    "https://api .paypal.com/x",
    "HTTPS://API.PAYPAL.COM.EVIL.TEST/x",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_disallowed_cert_urls_are_refused_without_fetching(pki: PKI, url: str) -> None:
    fetcher = FakeFetcher({url: pki.leaf_pem})  # would even serve a good cert
    headers = _headers(pki, cert_url=url)
    v = _verifier(pki, fetcher)
    with pytest.raises(SignatureError) as info:
        _run(v, headers)
    assert fetcher.urls == []
    assert str(info.value) in ("certificate URL not allowed", "malformed PayPal header")


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_allow_list_refuses(url: str) -> None:
    assert not allowed_cert_url(url)


@pytest.mark.parametrize(
    "url",
    [
        CERT_URL,
        "https://api-m.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
        "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
        "https://paypal.com/x",
        "https://api.paypal.com:443/x",
        "https://API.PayPal.com/x",
    ],
)
def test_allow_list_accepts(url: str) -> None:
    assert allowed_cert_url(url)


# --- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing",
    [
        "PAYPAL-TRANSMISSION-ID",
        "PAYPAL-TRANSMISSION-TIME",
        "PAYPAL-TRANSMISSION-SIG",
        "PAYPAL-CERT-URL",
        "PAYPAL-AUTH-ALGO",
    ],
)
def test_missing_header_is_refused(pki: PKI, fetcher: FakeFetcher, missing: str) -> None:
    headers = _headers(pki)
    del headers[missing]
    assert _refused(_verifier(pki, fetcher), headers) == "missing PayPal header"
    assert fetcher.urls == []


def test_huge_header_is_refused_without_echo(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki)
    headers["PAYPAL-TRANSMISSION-SIG"] = "A" * (64 * 1024)
    reason = _refused(_verifier(pki, fetcher), headers)
    assert reason == "malformed PayPal header"
    assert fetcher.urls == []


def test_duplicate_header_in_different_case_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki)
    headers["paypal-transmission-id"] = "other"
    assert _refused(_verifier(pki, fetcher), headers) == "duplicate PayPal header"


def test_pipe_in_transmission_id_is_refused(pki: PKI, fetcher: FakeFetcher) -> None:
    headers = _headers(pki, transmission_id="a|b")
    assert _refused(_verifier(pki, fetcher), headers) == "malformed transmission id"


def test_error_messages_do_not_echo_attacker_data(pki: PKI, fetcher: FakeFetcher) -> None:
    marker = "ZZMARKERZZ"
    cases: list[Callable[[dict[str, str]], None]] = [
        lambda h: h.__setitem__("PAYPAL-AUTH-ALGO", marker),
        lambda h: h.__setitem__("PAYPAL-TRANSMISSION-TIME", marker),
        lambda h: h.__setitem__("PAYPAL-TRANSMISSION-SIG", marker + "!"),
        lambda h: h.__setitem__("PAYPAL-CERT-URL", "https://" + marker + ".test/x"),
    ]
    for mutate in cases:
        headers = _headers(pki)
        mutate(headers)
        reason = _refused(_verifier(pki, fetcher), headers, BODY + marker.encode())
        assert marker not in reason


# --- caching ------------------------------------------------------------------------------


def test_certificate_is_fetched_once_and_cached(pki: PKI, fetcher: FakeFetcher) -> None:
    v = _verifier(pki, fetcher)
    _run(v, _headers(pki))
    _run(v, _headers(pki, transmission_id="second"))
    assert fetcher.urls == [CERT_URL]


def test_failed_fetch_is_not_cached(pki: PKI) -> None:
    fetcher = FakeFetcher({CERT_URL: pki.leaf_pem}, fail_first=1)
    v = _verifier(pki, fetcher)
    assert _refused(v, _headers(pki)) == "certificate fetch failed"
    _run(v, _headers(pki))
    assert fetcher.urls == [CERT_URL, CERT_URL]


def test_cache_is_bounded(pki: PKI) -> None:
    urls = [f"https://api.paypal.com/v1/notifications/certs/CERT-{i}" for i in range(3)]
    fetcher = FakeFetcher(dict.fromkeys(urls, pki.leaf_pem))
    v = _verifier(pki, fetcher, cache_size=2)
    for url in [*urls, urls[0]]:  # the third evicts the first, so it is fetched again
        _run(v, _headers(pki, cert_url=url))
    assert fetcher.urls == [*urls, urls[0]]


# --- construction -------------------------------------------------------------------------


def test_bad_configuration_fails_at_construction(pki: PKI, fetcher: FakeFetcher) -> None:
    with pytest.raises(ValueError):
        PayPalVerifier(webhook_id="", ca_bundle_pem=pki.ca.pem, fetch=fetcher)
    with pytest.raises(ValueError):
        PayPalVerifier(webhook_id=WEBHOOK_ID, ca_bundle_pem=b"", fetch=fetcher)


# --- the default httpx fetcher ------------------------------------------------------------


def _fetch(fetch: CertFetcher, url: str) -> bytes:
    async def go() -> bytes:
        return await fetch(url)

    return asyncio.run(go())


@dataclass
class Recorder:
    responses: Callable[[httpx.Request], httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses(request)


def test_httpx_fetcher_returns_body() -> None:
    rec = Recorder(lambda r: httpx.Response(200, stream=httpx.ByteStream(b"PEM")))
    fetch = httpx_fetcher(transport=httpx.MockTransport(rec))
    assert _fetch(fetch, CERT_URL) == b"PEM"
    assert [str(r.url) for r in rec.requests] == [CERT_URL]


def test_httpx_fetcher_does_not_follow_redirects() -> None:
    rec = Recorder(lambda r: httpx.Response(302, headers={"location": "http://127.0.0.1/x"}))
    fetch = httpx_fetcher(transport=httpx.MockTransport(rec))
    with pytest.raises(SignatureError):
        _fetch(fetch, CERT_URL)
    assert len(rec.requests) == 1


def test_httpx_fetcher_caps_size() -> None:
    rec = Recorder(lambda r: httpx.Response(200, stream=httpx.ByteStream(b"x" * 2000)))
    fetch = httpx_fetcher(max_bytes=1000, transport=httpx.MockTransport(rec))
    with pytest.raises(SignatureError, match="too large"):
        _fetch(fetch, CERT_URL)


def test_httpx_fetcher_refuses_disallowed_url_without_a_request() -> None:
    rec = Recorder(lambda r: httpx.Response(200, stream=httpx.ByteStream(b"PEM")))
    fetch = httpx_fetcher(transport=httpx.MockTransport(rec))
    with pytest.raises(SignatureError):
        _fetch(fetch, "http://127.0.0.1:8443/cert")
    assert rec.requests == []


def test_httpx_fetcher_refuses_declared_oversize_and_compressed_bodies() -> None:
    big = Recorder(lambda r: httpx.Response(200, headers={"content-length": "999999"}))
    with pytest.raises(SignatureError, match="too large"):
        _fetch(httpx_fetcher(transport=httpx.MockTransport(big)), CERT_URL)
    gz = Recorder(
        lambda r: httpx.Response(
            200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(b"x")
        )
    )
    with pytest.raises(SignatureError):
        _fetch(httpx_fetcher(transport=httpx.MockTransport(gz)), CERT_URL)
    assert gz.requests[0].headers["accept-encoding"] == "identity"
