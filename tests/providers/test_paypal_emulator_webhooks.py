"""The PayPal emulator's webhooks: PayPal's event shapes, signed as PayPal signs them,
checked by our real verifier against the emulator's CA, delivered after the answer and
retried until the receiver takes them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import paypalrestsdk
import pytest
from starlette.applications import Starlette

from providers.paypal.webhook import parse_event
from providers.paypal.webhook_pinned import pinned_fetcher
from providers.paypal.webhook_signature import PayPalVerifier, SignatureError
from providers.paypal_emulator import create_app
from providers.paypal_emulator.pki import SigningIdentity, generate
from providers.paypal_emulator.webhooks import WebhookDeliverer
from tests.conftest import serve_in_thread
from tests.webhook_receiver import Received, Receiver, receiver

CLIENT_ID = "hooks-client-id"
CLIENT_SECRET = "hooks-client-secret"
WEBHOOK_ID = "8PT597110X687430LKGECATA"
REPRESENTATION = {"Prefer": "return=representation"}
Json = dict[str, Any]


@pytest.fixture(scope="module")
def identity() -> SigningIdentity:
    return generate()


@dataclasses.dataclass
class Hooked:
    base_url: str
    app: Starlette
    hooks: Receiver

    @property
    def deliverer(self) -> WebhookDeliverer:
        deliverer: WebhookDeliverer = self.app.state.paypal_webhooks
        return deliverer

    def api(self) -> Any:
        return paypalrestsdk.Api(
            {
                "mode": "sandbox",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "endpoint": self.base_url,
            }
        )

    def approved_order(self, api: Any, intent: str = "CAPTURE", value: str = "25.00") -> str:
        order = api.post(
            "v2/checkout/orders",
            {
                "intent": intent,
                "purchase_units": [
                    {"reference_id": "chk_1", "amount": {"currency_code": "EUR", "value": value}}
                ],
            },
        )
        with httpx.Client(base_url=self.base_url) as browser:
            browser.post(f"/checkoutnow/{order['id']}/approve", data={"action": "approve"})
        return str(order["id"])

    def wait(self, n: int) -> list[Received]:
        deadline = time.monotonic() + 20
        while True:
            with self.hooks.lock:
                got = [r for r in self.hooks.received if r.answered == 200]
            if len(got) >= n and self.deliverer.idle:
                return got
            assert time.monotonic() < deadline, f"{len(got)} of {n} deliveries"
            time.sleep(0.02)


@pytest.fixture
def hooked(identity: SigningIdentity) -> Iterator[Hooked]:
    with (
        receiver() as hooks,
        serve_in_thread(
            lambda base: create_app(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                public_base_url=base,
                webhook_url=hooks.url,
                webhook_id=WEBHOOK_ID,
                signing=identity,
            )
        ) as (base, app),
    ):
        deliverer: WebhookDeliverer = app.state.paypal_webhooks
        # Retries in tens of milliseconds: the schedule is the emulator's, not under test.
        deliverer.first_delay = 0.02
        yield Hooked(base, app, hooks)


def verifier(identity: SigningIdentity, webhook_id: str = WEBHOOK_ID) -> PayPalVerifier:
    return PayPalVerifier(
        webhook_id=webhook_id,
        ca_bundle_pem=identity.ca_pem,
        fetch=pinned_fetcher(identity.cert_url, identity.leaf_pem),
    )


def verify(identity: SigningIdentity, delivery: Received, **kw: Any) -> None:
    asyncio.run(verifier(identity, **kw).verify(delivery.headers, delivery.body))


def by_type(deliveries: list[Received]) -> dict[str, Json]:
    return {d.event["event_type"]: d.event for d in deliveries}


# --- signing -----------------------------------------------------------------------------


def test_a_capture_is_announced_signed_and_our_verifier_accepts_it(
    hooked: Hooked, identity: SigningIdentity
) -> None:
    api = hooked.api()
    order_id = hooked.approved_order(api)
    capture = api.post(f"v2/checkout/orders/{order_id}/capture", {}, REPRESENTATION)
    deliveries = hooked.wait(2)
    for delivery in deliveries:
        verify(identity, delivery)
        headers = delivery.headers
        assert headers["paypal-auth-algo"] == "SHA256withRSA"
        assert headers["paypal-cert-url"] == identity.cert_url
        assert headers["paypal-cert-url"].startswith(
            "https://api.paypal.com/v1/notifications/certs/CERT-"
        )
    events = by_type(deliveries)
    approved, completed = events["CHECKOUT.ORDER.APPROVED"], events["PAYMENT.CAPTURE.COMPLETED"]
    assert approved["resource_type"] == "checkout-order"
    assert approved["resource"]["id"] == order_id
    assert approved["resource"]["status"] == "APPROVED"
    captured = capture["purchase_units"][0]["payments"]["captures"][0]
    assert completed["resource_type"] == "capture"
    assert completed["resource"]["id"] == captured["id"]
    assert completed["resource"]["amount"] == {"currency_code": "EUR", "value": "25.00"}
    assert completed["resource"]["supplementary_data"]["related_ids"]["order_id"] == order_id
    for event in events.values():
        assert event["id"].startswith("WH-") and len(event["id"]) == 38
        assert (event["event_version"], event["resource_version"]) == ("1.0", "2.0")
        assert event["create_time"].endswith("Z") and event["summary"]
        rels = {link["rel"]: link for link in event["links"]}
        assert rels["self"]["href"].endswith(f"/v1/notifications/webhooks-events/{event['id']}")
        assert rels["resend"]["method"] == "POST"
    # What the receiver parses out: the order id, our PayPal reference.
    assert parse_event(deliveries[-1].body).provider_ref == order_id


def test_a_tampered_body_or_another_webhook_id_does_not_verify(
    hooked: Hooked, identity: SigningIdentity
) -> None:
    hooked.approved_order(hooked.api())
    (delivery,) = hooked.wait(1)
    tampered = dataclasses.replace(delivery, body=delivery.body.replace(b"APPROVED", b"VOIDED"))
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(identity, tampered)
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(identity, delivery, webhook_id="SOMEOTHERWEBHOOK")
    # Trusting another CA, the emulator's leaf does not chain.
    stranger = generate()
    other = PayPalVerifier(
        webhook_id=WEBHOOK_ID,
        ca_bundle_pem=stranger.ca_pem,
        fetch=pinned_fetcher(identity.cert_url, identity.leaf_pem),
    )
    with pytest.raises(SignatureError, match="not trusted"):
        asyncio.run(other.verify(delivery.headers, delivery.body))


# --- the events of an authorization's life ----------------------------------------------


def test_authorize_void_and_capture_refund_emit_paypals_event_types(
    hooked: Hooked, identity: SigningIdentity
) -> None:
    api = hooked.api()
    voided_order = hooked.approved_order(api, intent="AUTHORIZE")
    auth = api.post(f"v2/checkout/orders/{voided_order}/authorize", {}, REPRESENTATION)
    auth_id = auth["purchase_units"][0]["payments"]["authorizations"][0]["id"]
    api.post(f"v2/payments/authorizations/{auth_id}/void", {})
    order_id = hooked.approved_order(api, intent="AUTHORIZE")
    auth = api.post(f"v2/checkout/orders/{order_id}/authorize", {}, REPRESENTATION)
    capture_auth = auth["purchase_units"][0]["payments"]["authorizations"][0]["id"]
    capture = api.post(f"v2/payments/authorizations/{capture_auth}/capture", {})
    refund = api.post(
        f"v2/payments/captures/{capture['id']}/refund",
        {"amount": {"currency_code": "EUR", "value": "5.00"}},
    )
    deliveries = hooked.wait(7)
    for delivery in deliveries:
        verify(identity, delivery)
    kinds = [d.event["event_type"] for d in deliveries]
    assert sorted(kinds) == sorted(
        [
            "CHECKOUT.ORDER.APPROVED",
            "PAYMENT.AUTHORIZATION.CREATED",
            "PAYMENT.AUTHORIZATION.VOIDED",
            "CHECKOUT.ORDER.APPROVED",
            "PAYMENT.AUTHORIZATION.CREATED",
            "PAYMENT.CAPTURE.COMPLETED",
            "PAYMENT.CAPTURE.REFUNDED",
        ]
    )
    events = {(d.event["event_type"], d.event["resource"]["id"]): d for d in deliveries}
    voided = events[("PAYMENT.AUTHORIZATION.VOIDED", auth_id)].event
    assert voided["resource_type"] == "authorization"
    assert voided["resource"]["status"] == "VOIDED"
    assert voided["resource"]["supplementary_data"]["related_ids"]["order_id"] == voided_order
    completed = events[("PAYMENT.CAPTURE.COMPLETED", capture["id"])].event
    related = completed["resource"]["supplementary_data"]["related_ids"]
    assert related == {"order_id": order_id, "authorization_id": capture_auth}
    # A refund names only its capture (an `up` link), as PayPal's do.
    refunded = events[("PAYMENT.CAPTURE.REFUNDED", refund["id"])]
    assert refunded.event["resource_type"] == "refund"
    assert "supplementary_data" not in refunded.event["resource"]
    assert refunded.event["resource"]["amount"]["value"] == "5.00"
    assert parse_event(refunded.body).provider_ref == f"capture:{capture['id']}"


def test_a_replayed_request_id_announces_nothing_twice(hooked: Hooked) -> None:
    api = hooked.api()
    order_id = hooked.approved_order(api)
    headers = {"PayPal-Request-Id": "capture-once"}
    first = api.post(f"v2/checkout/orders/{order_id}/capture", {}, headers)
    again = api.post(f"v2/checkout/orders/{order_id}/capture", {}, headers)
    assert first == again
    time.sleep(0.2)
    kinds = [d.event["event_type"] for d in hooked.wait(2)]
    assert kinds.count("PAYMENT.CAPTURE.COMPLETED") == 1


# --- delivery ------------------------------------------------------------------------------


def test_a_failing_receiver_is_retried_with_fresh_transmissions(
    hooked: Hooked, identity: SigningIdentity
) -> None:
    hooked.hooks.failing = 3
    hooked.approved_order(hooked.api())
    (accepted,) = hooked.wait(1)
    attempts = hooked.hooks.received
    assert [r.answered for r in attempts] == [503, 503, 503, 200]
    # Each attempt is its own transmission, signed afresh; the event is the same bytes.
    assert len({r.headers["paypal-transmission-id"] for r in attempts}) == 4
    assert {r.body for r in attempts} == {accepted.body}
    for attempt in attempts:
        verify(identity, attempt)


def test_an_event_can_be_read_and_resent_byte_for_byte(hooked: Hooked) -> None:
    api = hooked.api()
    hooked.approved_order(api)
    (first,) = hooked.wait(1)
    event_id = first.event["id"]
    token = api.get_access_token()
    with httpx.Client(base_url=hooked.base_url) as http:
        auth = {"Authorization": f"Bearer {token}"}
        shown = http.get(f"/v1/notifications/webhooks-events/{event_id}", headers=auth)
        assert shown.status_code == 200 and shown.json() == first.event
        resent = http.post(f"/v1/notifications/webhooks-events/{event_id}/resend", headers=auth)
        assert resent.status_code == 202
        assert http.post(f"/v1/notifications/webhooks-events/{event_id}/resend").status_code == 401
        missing = http.get("/v1/notifications/webhooks-events/WH-NOPE", headers=auth)
        assert missing.status_code == 404
    second = hooked.wait(2)[1]
    assert second.body == first.body
    assert second.headers["paypal-transmission-id"] != first.headers["paypal-transmission-id"]


def test_the_advertised_certificate_is_served_at_its_path(
    hooked: Hooked, identity: SigningIdentity
) -> None:
    with httpx.Client(base_url=hooked.base_url) as http:
        pem = http.get(f"/v1/notifications/certs/{identity.cert_id}")
        assert pem.status_code == 200 and pem.content == identity.leaf_pem
        assert http.get("/v1/notifications/certs/CERT-other").status_code == 404


def test_without_a_webhook_url_nothing_is_delivered() -> None:
    app = create_app(client_id="c", client_secret="s", public_base_url="http://x")
    assert app.state.paypal_webhooks is None


def test_the_emulator_makes_its_own_identity_when_given_none(identity: SigningIdentity) -> None:
    app = create_app(
        client_id="c",
        client_secret="s",
        public_base_url="http://x",
        webhook_url="http://127.0.0.1:9/hooks",
        webhook_id=WEBHOOK_ID,
    )
    own: SigningIdentity = app.state.paypal_webhooks.identity
    assert own.ca_pem != identity.ca_pem
    assert own.cert_url != identity.cert_url
    assert "key" not in repr(app.state.paypal_webhooks) and "PRIVATE" not in repr(own)


def test_events_carry_the_resource_as_the_api_shows_it(hooked: Hooked) -> None:
    api = hooked.api()
    order_id = hooked.approved_order(api)
    api.post(f"v2/checkout/orders/{order_id}/capture", {})
    completed = by_type(hooked.wait(2))["PAYMENT.CAPTURE.COMPLETED"]
    shown = api.get(f"v2/payments/captures/{completed['resource']['id']}")
    assert json.loads(json.dumps(shown)) == completed["resource"]
