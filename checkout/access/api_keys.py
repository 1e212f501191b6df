"""API keys: ``sk_`` + 256 random bits, shown once; only their SHA-256 is ever stored.

A plain hash (not argon2) is right here: the secret is random and long, so there is
nothing to brute-force, and every private request must look its key up quickly.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from checkout.access.scopes import Scope

PREFIX = "sk_"
MAX_LEN = 128


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hint_of(secret: str) -> str:
    return secret[len(PREFIX) : len(PREFIX) + 6]


def looks_like_key(secret: str) -> bool:
    return secret.startswith(PREFIX) and len(secret) <= MAX_LEN


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    hint: str
    label: str | None
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        return self.active and scope in self.scopes

    def __repr__(self) -> str:  # the secret is not here to leak, but keep reprs short
        return f"ApiKey(id={self.id!r}, scopes={sorted(self.scopes)!r}, active={self.active})"
