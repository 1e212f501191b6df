"""Dev wiring for PayPal webhooks: the emulator's PKI in the data dir, the pinned
certificate fetcher, refund events that name only a capture, and the handler wrapper that
turns such a capture into the order we know the payment by."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checkout import paypal_dev
from checkout.services.paypal_event_refs import PayPalEventRefs
from providers.base import ProviderEvent, ProviderRejected
from providers.paypal.webhook import parse_event
from providers.paypal.webhook_pinned import pinned_fetcher
from providers.paypal.webhook_signature import CertFetcher, SignatureError
from providers.paypal_emulator.pki import SigningIdentity, generate
from webhooks.worker import Outcome

CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-1a2b3c4d-1a2b3c4d-1a2b3c4d"


# --- the pinned fetcher ------------------------------------------------------------------


async def _fetch(fetch: CertFetcher, url: str) -> bytes:
    return await fetch(url)


def test_the_pinned_fetcher_answers_only_its_url_from_the_local_pem() -> None:
    fetch = pinned_fetcher(CERT_URL, b"PEM")
    assert asyncio.run(_fetch(fetch, CERT_URL)) == b"PEM"
    for other in (CERT_URL + "0", "https://api.paypal.com/v1/notifications/certs/CERT-2"):
        with pytest.raises(SignatureError, match="pinned"):
            asyncio.run(_fetch(fetch, other))


@pytest.mark.parametrize(
    "url",
    ["http://api.paypal.com/v1/notifications/certs/C", "https://127.0.0.1:8011/certs/C"],
)
def test_a_url_the_verifier_would_never_fetch_cannot_be_pinned(url: str) -> None:
    with pytest.raises(ValueError, match="pinned certificate URL"):
        pinned_fetcher(url, b"PEM")


# --- the dev PKI in the data dir ----------------------------------------------------------


def test_the_dev_pki_is_made_once_private_to_the_user(tmp_path: Path) -> None:
    where = tmp_path / "data" / "dev-paypal-webhook-pki"
    assert paypal_dev.load_identity(where) is None
    assert paypal_dev.verifier(where, "WH1") is None
    made = paypal_dev.ensure_identity(where)
    assert where.stat().st_mode & 0o777 == 0o700
    for name in ("ca.pem", "leaf.pem", "leaf.key"):
        assert (where / name).stat().st_mode & 0o777 == 0o600
    again = paypal_dev.ensure_identity(where)
    assert (again.ca_pem, again.leaf_pem) == (made.ca_pem, made.leaf_pem)
    assert again.cert_url.startswith("https://api.paypal.com/v1/notifications/certs/CERT-")
    assert paypal_dev.verifier(where, "WH1") is not None
    # Nothing but the final directory is left behind.
    assert [p.name for p in where.parent.iterdir()] == [where.name]


def test_a_dev_pki_near_expiry_or_broken_is_replaced(tmp_path: Path) -> None:
    where = tmp_path / "pki"
    old = paypal_dev.ensure_identity(where, now=datetime.now(UTC) - timedelta(days=1820))
    fresh = paypal_dev.ensure_identity(where)
    assert fresh.ca_pem != old.ca_pem
    (where / "leaf.key").write_bytes(generate().key_pem())  # a key of another leaf
    assert paypal_dev.load_identity(where) is None
    assert paypal_dev.ensure_identity(where).leaf_pem != fresh.leaf_pem


def test_an_identity_does_not_show_its_key() -> None:
    identity = generate()
    assert repr(identity) == f"SigningIdentity(cert_id={identity.cert_id!r})"
    with pytest.raises(ValueError, match="does not match"):
        SigningIdentity.from_pem(
            ca_pem=identity.ca_pem, leaf_pem=identity.leaf_pem, key_pem=generate().key_pem()
        )


# --- refunds name a capture ---------------------------------------------------------------


def _refund_event(links: list[dict[str, str]]) -> bytes:
    return json.dumps(
        {
            "id": "WH-1",
            "event_type": "PAYMENT.CAPTURE.REFUNDED",
            "resource": {"id": "R1", "status": "COMPLETED", "links": links},
        }
    ).encode()


def test_a_refund_event_is_referenced_by_the_capture_it_links_up_to() -> None:
    up = {"rel": "up", "href": "https://api.paypal.com/v2/payments/captures/2GG279541U471931P"}
    own = {"rel": "self", "href": "https://api.paypal.com/v2/payments/refunds/R1"}
    assert parse_event(_refund_event([own, up])).provider_ref == "capture:2GG279541U471931P"
    assert parse_event(_refund_event([own])).provider_ref is None
    odd = {"rel": "up", "href": "https://x/v2/payments/captures/../orders/1"}
    assert parse_event(_refund_event([odd])).provider_ref is None


class _FakePayPal:
    def __init__(self, orders: dict[str, str]) -> None:
        self.orders = orders
        self.asked: list[str] = []

    async def order_id_for(self, reference: str) -> str | None:
        self.asked.append(reference)
        if reference.startswith("capture:"):
            capture = reference.removeprefix("capture:")
            if capture == "GONE":
                raise ProviderRejected("PayPal does not know this object.")
            return self.orders.get(capture)
        return reference


def _event(provider: str, ref: str | None) -> ProviderEvent:
    return ProviderEvent(provider, "WH-1", "PAYMENT.CAPTURE.REFUNDED", ref, None, 0)


def test_the_handler_gets_the_order_id_for_a_capture_reference() -> None:
    seen: list[ProviderEvent] = []

    async def handler(event: ProviderEvent) -> Outcome:
        seen.append(event)
        return Outcome.APPLIED

    paypal = _FakePayPal({"CAP1": "ORDER1"})
    refs = PayPalEventRefs(paypal, handler)
    assert asyncio.run(refs.apply(_event("paypal", "capture:CAP1"))) is Outcome.APPLIED
    assert asyncio.run(refs.apply(_event("paypal", "ORDER2"))) is Outcome.APPLIED
    assert asyncio.run(refs.apply(_event("stripe", "capture:CAP1"))) is Outcome.APPLIED
    assert [e.provider_ref for e in seen] == ["ORDER1", "ORDER2", "capture:CAP1"]
    # A capture PayPal does not know, or one without an order: retried later, not handled.
    for unknown in ("capture:GONE", "capture:NOORDER"):
        assert asyncio.run(refs.apply(_event("paypal", unknown))) is Outcome.UNKNOWN_OBJECT
    assert len(seen) == 3
    assert "capture:CAP1" in paypal.asked and len(paypal.asked) == 4
