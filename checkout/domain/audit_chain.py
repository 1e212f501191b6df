"""The audit log's hash chain: each event's hash covers its fields and the hash before it.

``hash = SHA-256(canonical(event) || prev_hash)`` where the canonical form is JSON with
sorted keys and no spaces, timestamps as UTC ISO 8601 with microseconds, and a version
field. The first event chains from :data:`GENESIS`. The chain runs in ``id`` order, so
editing a row breaks its own hash, and deleting, inserting or reordering rows breaks the
``prev_hash`` of the row after. (Cutting rows off the end leaves a shorter chain that
still verifies; comparing the head hash with one kept elsewhere catches that.)

This encoding is version 1 and never changes: a stored chain must verify forever. A new
encoding would be version 2, chosen per row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

VERSION = 1
GENESIS = hashlib.sha256(b"headless-checkout audit chain genesis v1").hexdigest()


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class ChainedFields:
    """What an event's hash covers (everything but its database id and its own hash)."""

    occurred_at: datetime
    actor_type: str
    actor_id: str | None
    action: str
    target_type: str
    target_id: str
    request_id: str | None
    details: Mapping[str, Any] | None = field(default=None)

    def canonical(self) -> bytes:
        doc = {
            "v": VERSION,
            "occurred_at": _timestamp(self.occurred_at),
            "actor_type": self.actor_type,
            "actor_id": self.actor_id,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "request_id": self.request_id,
            "details": dict(self.details) if self.details else None,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(fields: ChainedFields, prev_hash: str) -> str:
    h = hashlib.sha256(fields.canonical())
    h.update(b"\n" + prev_hash.encode("ascii"))
    return h.hexdigest()
