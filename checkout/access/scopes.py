"""API.md's scopes for private-listener API keys; a key holds any set of them."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    ORDERS_READ = "orders:read"
    ORDERS_FULFILL = "orders:fulfill"
    CUSTOMERS_READ = "customers:read"
    CATALOG_WRITE = "catalog:write"
    WEBHOOKS_MANAGE = "webhooks:manage"


class UnknownScope(ValueError):
    pass


def parse_scopes(text: str) -> frozenset[Scope]:
    """``"orders:read,webhooks:manage"`` → the scopes; unknown or empty → UnknownScope."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UnknownScope("at least one scope is required")
    known = {s.value: s for s in Scope}
    bad = sorted(n for n in names if n not in known)
    if bad:
        raise UnknownScope(
            f"unknown scope(s) {', '.join(bad)}; known: {', '.join(s.value for s in Scope)}"
        )
    return frozenset(known[n] for n in names)


def format_scopes(scopes: frozenset[Scope]) -> str:
    return ",".join(s.value for s in Scope if s in scopes)
