"""Errors the domain raises; the web edge maps them to API.md's codes.

DomainError
 ├── InvalidCart          fields that make a cart unpriceable (-> 422)
 ├── CheckoutNotOpen      paying or changing a completed checkout (-> 409)
 ├── PriceChanged         the catalog moved since the checkout was priced (-> 409)
 └── InvalidTransition    a payment state change the machine forbids
"""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    pass


class InvalidCart(DomainError):
    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("invalid cart")
        self.fields = dict(fields)


class CheckoutNotOpen(DomainError):
    def __init__(self, status: str) -> None:
        super().__init__(f"checkout is {status}")
        self.status = status


class PriceChanged(DomainError):
    pass


class InvalidTransition(DomainError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"payment cannot go from {current} to {target}")
        self.current = current
        self.target = target
