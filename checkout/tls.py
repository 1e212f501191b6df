"""The TLS policy of both listeners: TLS 1.2 at least, and only AEAD cipher suites with
forward secrecy.

TLS 1.2 is limited to ECDHE key exchange with AES-GCM or ChaCha20-Poly1305; every TLS 1.3
suite is AEAD with ephemeral key exchange, so OpenSSL's TLS 1.3 defaults stand. Uvicorn
builds the context from the certificate and key (``ssl_certfile``/``ssl_keyfile``,
``ssl_ciphers``); its ``ssl_context_factory`` hook is where the minimum version and the
options uvicorn has no setting for are applied, on the context it made.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from checkout.netconfig import TlsFiles

# OpenSSL cipher-list syntax for TLS 1.2 and below (TLS 1.3 suites are set apart).
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
# HSTS for the public listener, sent only on responses that travelled over TLS (RFC 6797
# ignores it over plain HTTP): two years.
HSTS = "max-age=63072000; includeSubDomains"


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """Apply the policy to a server context (used on uvicorn's and in tests)."""
    context.minimum_version = MINIMUM_VERSION
    context.set_ciphers(CIPHERS)
    context.options |= (
        ssl.OP_NO_COMPRESSION
        | ssl.OP_CIPHER_SERVER_PREFERENCE
        | ssl.OP_SINGLE_ECDH_USE
        | ssl.OP_NO_RENEGOTIATION
    )
    return context


def context_factory(_config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn's ``ssl_context_factory``: its own context (certificate, key, ALPN), hardened."""
    return harden(default())


def uvicorn_tls(files: TlsFiles | None) -> dict[str, Any]:
    """The uvicorn.Config keyword arguments for a listener with (or without) TLS."""
    if files is None:
        return {}
    return {
        "ssl_certfile": str(files.cert),
        "ssl_keyfile": str(files.key),
        "ssl_version": ssl.PROTOCOL_TLS_SERVER,
        "ssl_ciphers": CIPHERS,
        "ssl_context_factory": context_factory,
    }
