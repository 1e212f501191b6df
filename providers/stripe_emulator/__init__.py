"""A local emulator of the part of Stripe's HTTP API the Stripe adapter uses.

Point the official SDK at it with
`stripe.StripeClient(key, base_addresses={"api": "http://127.0.0.1:PORT"})`.
"""

from providers.stripe_emulator.app import create_app
from providers.stripe_emulator.state import EmulatorState

__all__ = ["EmulatorState", "create_app"]
