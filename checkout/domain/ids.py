"""Opaque ids with a type prefix and 128 random bits (API.md asks for at least 96)."""

from __future__ import annotations

import secrets

# "op" (a capture or void of a payment) is internal; the others are API.md's.
PREFIXES = frozenset(
    {"chk", "ord", "pay", "re", "cus", "stf", "pm", "key", "evt", "whe", "prod", "op", "ful"}
)


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{secrets.token_hex(16)}"


def new_secret(prefix: str) -> str:
    """A bearer secret (checkout client secret and the like): 256 random bits."""
    return f"{prefix}_secret_{secrets.token_urlsafe(32)}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) <= 64
