"""A certificate fetcher pinned to one URL and one local PEM, for the dev PayPal emulator.

The emulator advertises its signing certificate under a PayPal-shaped URL
(``https://api.paypal.com/v1/notifications/certs/CERT-…``) that nothing on the network
serves. This fetcher answers that one URL from the PEM it was given and refuses every
other, without any network access; the verifier still checks the chain to its CA
bundle, the paypal.com name and the signature, exactly as with PayPal's real certificate.
Production uses :func:`providers.paypal.webhook_signature.httpx_fetcher` instead.
"""

from __future__ import annotations

from providers.paypal.webhook_signature import CertFetcher, SignatureError, allowed_cert_url

__all__ = ["pinned_fetcher"]


def pinned_fetcher(url: str, pem: bytes) -> CertFetcher:
    # A URL the verifier would refuse before fetching could never be asked for; saying so
    # at start beats a dev setup whose webhooks all fail.
    if not allowed_cert_url(url):
        raise ValueError("the pinned certificate URL is not one the verifier would fetch")

    async def fetch(requested: str) -> bytes:
        if requested != url:
            raise SignatureError("certificate URL is not the pinned one")
        return pem

    return fetch
