"""PayPal Orders v2, through the official ``paypalrestsdk`` ``Api``."""

from providers.paypal.adapter import PayPalProvider

__all__ = ["PayPalProvider"]
