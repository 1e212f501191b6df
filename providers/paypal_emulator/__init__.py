"""A local emulator of the part of PayPal's REST API the PayPal adapter uses.

OAuth client credentials, Orders v2 (create, get, capture, authorize), Payments v2
(authorization capture / void / get, capture refund / get, refund get), a buyer
approval page, `PayPal-Request-Id` replays, fault injection, and (given a webhook URL
and id) signed webhook deliveries as PayPal makes them. Point the official
SDK at it with
`paypalrestsdk.Api({"mode": "sandbox", "client_id": ..., "client_secret": ...,
"endpoint": "http://127.0.0.1:PORT"})` (`token_endpoint` defaults to `endpoint`).
"""

from providers.paypal_emulator.app import create_app
from providers.paypal_emulator.pki import SigningIdentity
from providers.paypal_emulator.state import PayPalState
from providers.paypal_emulator.webhooks import WebhookDeliverer

__all__ = ["PayPalState", "SigningIdentity", "WebhookDeliverer", "create_app"]
