"""The copy-pasteable walk-through ``make run`` prints: a full guest checkout by curl."""

from __future__ import annotations

from checkout.config import Settings

_JSON_FIELD = "python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])'"


def walkthrough(settings: Settings, stripe_base: str, storefront: str | None = None) -> str:
    api = f"http://127.0.0.1:{settings.public_port}"
    shop = (
        f"Demo storefront: {storefront}  (open it in a browser: the JS SDK, the card "
        "iframe, 3-D Secure)\n"
        if storefront
        else ""
    )
    private = f"http://127.0.0.1:{settings.private_port}"
    pk = settings.stripe_publishable_key
    return f"""
Public API:  {api}
Private API: {private}  (/healthz, /metrics)
Stripe emulator: {stripe_base}
{shop}
Buy something as a guest (paste into another shell):

  API={api}; STRIPE={stripe_base}
  curl -s $API/v1/products
  # 1. The card becomes a token at the provider (in a browser: the provider's iframe).
  PM=$(curl -s $STRIPE/v1/payment_methods -H 'Authorization: Bearer {pk}' \\
        -d type=card -d 'card[number]=4242424242424242' -d 'card[exp_month]=12' \\
        -d 'card[exp_year]=2034' -d 'card[cvc]=123' | {_JSON_FIELD} id)
  # 2. A checkout, priced from the catalog.
  CHK=$(curl -s $API/v1/checkouts -H 'Content-Type: application/json' \\
        -d '{{"currency":"USD","email":"buyer@example.com",'\
'"lines":[{{"sku":"TSHIRT-BLK-M","quantity":2}}]}}')
  ID=$(echo "$CHK" | {_JSON_FIELD} id); SECRET=$(echo "$CHK" | {_JSON_FIELD} client_secret)
  # 3. Pay with the token; the answer carries the order id.
  curl -s $API/v1/checkouts/$ID/payments -H 'Content-Type: application/json' \\
       -H "X-Checkout-Secret: $SECRET" -H "Idempotency-Key: pay-$ID" \\
       -d "{{\\"provider\\":\\"stripe\\",\\"payment_token\\":\\"$PM\\"}}"
  curl -s $API/v1/checkouts/$ID -H "X-Checkout-Secret: $SECRET"

Other test cards: 4000000000000002 (declined), 4000002760003184 (3-D Secure).
PayPal: POST $API/v1/checkouts/$ID/paypal-orders gives an approve_url on the PayPal
emulator; approve there, then pay with {{"provider":"paypal","payment_token":"<order id>"}}.
Ctrl-C stops everything.
"""
