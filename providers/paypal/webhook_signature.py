"""Offline verification of PayPal webhook signatures.

PayPal signs each webhook transmission with SHA256withRSA over the string
``transmission_id|transmission_time|webhook_id|crc32(body)`` and says where the signing
certificate lives in the ``PAYPAL-CERT-URL`` header. We verify that ourselves with
``cryptography`` rather than with paypalrestsdk's ``WebhookEvent.verify``, which fetches
whatever URL the request names and does not check that the certificate is PayPal's.

Everything the sender controls is treated as hostile:

* the certificate URL must pass :func:`allowed_cert_url` *before* anything is fetched,
  so a forged request cannot make us connect anywhere but ``https://*.paypal.com``;
* the certificate must chain to a CA in a configured bundle, be valid now and be issued
  to a name under ``paypal.com``, so that trust never rests on the URL check alone (an
  open redirect or user content on some paypal.com host must not be enough to forge);
* error messages are short fixed reasons and never echo header values or the body.

:func:`sign` is the counterpart used by our PayPal emulator and by tests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

__all__ = [
    "CertFetcher",
    "PayPalVerifier",
    "SignatureError",
    "allowed_cert_url",
    "httpx_fetcher",
    "now_utc",
    "sign",
]

# The one algorithm we accept. PayPal also documents SHA1withRSA; SHA-1 collisions are
# practical, so a signature under it proves nothing and is refused outright.
ALGORITHM = "SHA256withRSA"

H_TRANSMISSION_ID = "paypal-transmission-id"
H_TRANSMISSION_TIME = "paypal-transmission-time"
H_TRANSMISSION_SIG = "paypal-transmission-sig"
H_CERT_URL = "paypal-cert-url"
H_AUTH_ALGO = "paypal-auth-algo"
_REQUIRED = (H_TRANSMISSION_ID, H_TRANSMISSION_TIME, H_TRANSMISSION_SIG, H_CERT_URL, H_AUTH_ALGO)

# Real values are far shorter (a UUID, a timestamp, ~350-700 base64 chars for RSA-2048..4096,
# a ~80 char URL). A bound keeps a hostile request from making us parse or decode megabytes.
MAX_HEADER_LEN = 2048
# A leaf plus a couple of intermediates is a few KiB; the same cap applies to whatever an
# injected fetcher returns, not only to the default one.
MAX_CERT_BYTES = 64 * 1024
MAX_CHAIN_CERTS = 8
MIN_RSA_BITS = 2048

_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PAYPAL_DOMAIN = "paypal.com"

CertFetcher = Callable[[str], Awaitable[bytes]]
"""Fetches the PEM at an (already allow-listed) certificate URL; raises on any failure."""


class SignatureError(Exception):
    """The webhook is not provably from PayPal. The message is a fixed, non-echoing reason."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def _under_paypal(host: str) -> bool:
    """True for ``paypal.com`` and its subdomains, with every label a plain DNS label.

    Checking labels (not just the suffix) rules out IP literals, percent-encoding, empty
    labels and other spellings that different URL parsers might read differently.
    """
    if host != _PAYPAL_DOMAIN and not host.endswith("." + _PAYPAL_DOMAIN):
        return False
    return all(_DNS_LABEL.fullmatch(label) for label in host.split("."))


def allowed_cert_url(url: str) -> bool:
    """The allow-list for ``PAYPAL-CERT-URL``: nothing failing it is ever fetched.

    https only; no userinfo; port absent or 443; host ``paypal.com`` or a subdomain of it;
    a non-empty path. The URL must be printable ASCII, so that the string httpx later
    parses cannot contain whitespace, backslashes or control characters on which parsers
    disagree.
    """
    if len(url) > MAX_HEADER_LEN or not _PRINTABLE_ASCII.fullmatch(url) or "\\" in url:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        return False
    if parts.scheme != "https" or "@" in parts.netloc:
        return False
    if port is not None and port != 443:
        return False
    host = (parts.hostname or "").lower()
    if not _under_paypal(host):
        return False
    # The netloc must be exactly the host (plus ":443"): nothing left over for another
    # parser to interpret as the real authority.
    if parts.netloc.lower() not in (host, host + ":443"):
        return False
    return parts.path not in ("", "/")


def httpx_fetcher(
    timeout: float = 3.0,
    max_bytes: int = 64 * 1024,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> CertFetcher:
    """The production fetcher: one GET, TLS verified, no redirects, bounded time and size.

    Redirects are not followed because the allow-list applies to the URL we were given;
    a redirect could lead anywhere. ``trust_env=False`` keeps proxy variables, netrc and
    ``SSL_CERT_FILE`` from the environment out of a security decision. ``transport`` is a
    test seam (``httpx.MockTransport``).
    """

    async def fetch(url: str) -> bytes:
        # Defence in depth: the verifier checks first, but this fetcher must be safe alone.
        if not allowed_cert_url(url):
            raise SignatureError("certificate URL not allowed")
        # httpx's timeout applies per operation; asyncio.timeout bounds the whole fetch, so a
        # server dripping one byte at a time cannot hold a request open for long.
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(
                timeout=timeout,
                follow_redirects=False,
                verify=True,
                trust_env=False,
                transport=transport,
            ) as client,
            # identity only, read raw: a compressed body could expand far past max_bytes
            # inside a single decoded chunk before the size check ever saw it.
            client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as resp,
        ):
            if resp.status_code != 200:
                raise SignatureError("certificate fetch failed")
            if resp.headers.get("content-encoding", "identity").lower() != "identity":
                raise SignatureError("certificate fetch failed")
            declared = resp.headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
                raise SignatureError("certificate too large")
            buf = bytearray()
            async for chunk in resp.aiter_raw():
                buf += chunk
                if len(buf) > max_bytes:
                    raise SignatureError("certificate too large")
            return bytes(buf)

    return fetch


def _message(transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> bytes:
    # zlib.crc32 is unsigned on Python 3, matching PayPal's decimal CRC32 of the raw body.
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


def sign(
    *,
    key: rsa.RSAPrivateKey,
    transmission_id: str,
    transmission_time: str,
    webhook_id: str,
    body: bytes,
) -> str:
    """Produce ``PAYPAL-TRANSMISSION-SIG`` the way PayPal does (SHA256withRSA, base64).

    The counterpart of :meth:`PayPalVerifier.verify`, for the PayPal emulator and tests;
    production never signs.
    """
    message = _message(transmission_id, transmission_time, webhook_id, body)
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


class PayPalVerifier:
    """Verifies PayPal webhook transmissions for one configured webhook id.

    ``ca_bundle_pem`` holds the trust anchors (the public roots PayPal's certificate chains
    to; a test CA in tests). ``clock`` supplies "now" for both the replay window and the
    certificate validity check, so tests need no real time.
    """

    def __init__(
        self,
        *,
        webhook_id: str,
        ca_bundle_pem: bytes,
        fetch: CertFetcher,
        tolerance: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = now_utc,
        cache_size: int = 32,
    ) -> None:
        # Configuration errors are ValueError at start-up, not SignatureError per request.
        if not webhook_id or "|" in webhook_id:
            raise ValueError("webhook_id must be non-empty and must not contain '|'")
        if tolerance <= timedelta(0):
            raise ValueError("tolerance must be positive")
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        cas = x509.load_pem_x509_certificates(ca_bundle_pem)  # ValueError if none
        self._store = Store(cas)
        self._webhook_id = webhook_id
        self._fetch = fetch
        self._tolerance = tolerance
        self._clock = clock
        self._cache_size = cache_size
        # URL -> parsed certificates. Only successfully fetched and parsed PEMs are cached;
        # the chain and validity are re-checked on every use, so an entry that expires while
        # cached is still refused. Bounded (LRU) because keys come from requests.
        self._cache: OrderedDict[str, tuple[x509.Certificate, ...]] = OrderedDict()

    async def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return if ``body`` with ``headers`` is a genuine PayPal transmission; else raise
        :class:`SignatureError`. ``body`` must be the raw request bytes, unparsed."""
        h = _pick_headers(headers)
        transmission_id = h[H_TRANSMISSION_ID]
        transmission_time = h[H_TRANSMISSION_TIME]
        cert_url = h[H_CERT_URL]

        if h[H_AUTH_ALGO] != ALGORITHM:
            raise SignatureError("unsupported signature algorithm")
        # '|' separates the signed fields; refusing it means a value cannot pose as two.
        if "|" in transmission_id:
            raise SignatureError("malformed transmission id")

        now = self._clock()
        sent_at = _parse_time(transmission_time)
        # Replay window, checked both ways: a captured transmission stops verifying after
        # `tolerance`, and a timestamp from the future cannot buy a longer window.
        if abs(now - sent_at) > self._tolerance:
            raise SignatureError("transmission time outside the allowed window")

        signature = _decode_signature(h[H_TRANSMISSION_SIG])

        # All offline checks are done; only now may the URL lead to network traffic.
        if not allowed_cert_url(cert_url):
            raise SignatureError("certificate URL not allowed")
        chain = await self._certificates(cert_url)
        leaf = self._verified_leaf(chain, now)

        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
            raise SignatureError("certificate key is not an acceptable RSA key")
        message = _message(transmission_id, transmission_time, self._webhook_id, body)
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise SignatureError("signature does not match") from None

    async def _certificates(self, url: str) -> tuple[x509.Certificate, ...]:
        cached = self._cache.get(url)
        if cached is not None:
            self._cache.move_to_end(url)
            return cached
        # Concurrent first requests for one URL may both fetch; harmless, and simpler than
        # per-URL locks for an event that happens about once per certificate rotation.
        try:
            pem = await self._fetch(url)
        except Exception as exc:  # any failure of the injected fetcher; nothing is cached
            raise SignatureError("certificate fetch failed") from exc
        chain = _parse_chain(pem)
        if self._cache_size:
            self._cache[url] = chain
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return chain

    def _verified_leaf(
        self, chain: tuple[x509.Certificate, ...], now: datetime
    ) -> x509.Certificate:
        """The first certificate, once it is shown to be PayPal's and valid at ``now``."""
        leaf, intermediates = chain[0], list(chain[1:])
        names = _paypal_dns_names(leaf)
        if not names:
            raise SignatureError("certificate not issued to paypal.com")
        # The Web PKI server policy checks the chain to our store, every validity window at
        # `now`, CA basic constraints and key usages, and that `names[0]` is in the leaf's
        # SAN (real PayPal certificates are for messageverificationcerts.paypal.com). It
        # does not fall back to the subject CN, which RFC 6125 deprecates.
        try:
            verifier = (
                PolicyBuilder()
                .store(self._store)
                .time(now)
                .build_server_verifier(x509.DNSName(names[0]))
            )
            verifier.verify(leaf, intermediates)
        except (VerificationError, ValueError):
            raise SignatureError("certificate not trusted") from None
        return leaf


def _pick_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The five PayPal headers, matched case-insensitively, present once, short and ASCII.

    ``items()`` of a Starlette ``Headers`` yields repeated headers separately; two values
    for one of ours would make it ambiguous which one was signed, so that is refused.
    """
    picked: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key not in _REQUIRED:
            continue
        if key in picked:
            raise SignatureError("duplicate PayPal header")
        if len(value) > MAX_HEADER_LEN or not _PRINTABLE_ASCII.fullmatch(value):
            raise SignatureError("malformed PayPal header")
        picked[key] = value
    if len(picked) != len(_REQUIRED):
        raise SignatureError("missing PayPal header")
    return picked


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SignatureError("malformed transmission time") from None
    # PayPal always sends an offset ("Z"); a naive time could mean any zone.
    if parsed.tzinfo is None:
        raise SignatureError("transmission time has no time zone")
    return parsed


def _decode_signature(value: str) -> bytes:
    try:
        signature = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("malformed signature") from None
    if not signature:
        raise SignatureError("malformed signature")
    return signature


def _parse_chain(pem: bytes) -> tuple[x509.Certificate, ...]:
    """Leaf first, then any intermediates, as PayPal serves them."""
    if len(pem) > MAX_CERT_BYTES:
        raise SignatureError("certificate too large")
    try:
        chain = tuple(x509.load_pem_x509_certificates(pem))
    except ValueError:
        raise SignatureError("certificate unreadable") from None
    if not chain or len(chain) > MAX_CHAIN_CERTS:
        raise SignatureError("certificate unreadable")
    return chain


def _paypal_dns_names(cert: x509.Certificate) -> list[str]:
    """DNS names in the certificate's SAN that lie under paypal.com (wildcards excluded)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    except ValueError:  # a malformed extension
        return []
    names = (n.lower() for n in san.get_values_for_type(x509.DNSName))
    return [n for n in names if _under_paypal(n)]
