"""Stripe, through the official SDK's async ``StripeClient``."""

from providers.stripe.adapter import StripeProvider

__all__ = ["StripeProvider"]
