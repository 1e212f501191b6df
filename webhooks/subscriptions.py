"""Integration endpoints subscribed to our order events.

The signing secret is generated here, returned once to the caller that created the
endpoint, and kept encrypted (bound to the endpoint's row) for signing deliveries.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import Connection

from customers.pii import FieldCipher
from customers.timestamps import as_utc
from webhooks.outbox import EVENT_TYPES
from webhooks.signing import new_secret
from webhooks.tables import WebhookEndpointRow

_T: sa.Table = WebhookEndpointRow.__table__  # type: ignore[attr-defined]
TABLE = "webhook_endpoints"
MAX_URL = 2048
MAX_ENDPOINTS = 100  # per installation: a bound on fan-out work per event
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    url: str
    events: tuple[str, ...]
    status: str
    created_at: datetime


class EndpointRefused(ValueError):
    """The request to subscribe is not acceptable; ``field`` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_url(url: str, *, require_https: bool) -> str:
    """The URL if we would deliver to it, else :class:`EndpointRefused`.

    No credentials in the URL (they would sit in our database and logs in clear); only
    http(s); plain http only to loopback unless the deployment allows it (dev).
    """
    if len(url) > MAX_URL or any(c.isspace() for c in url):
        raise EndpointRefused("url", "url must be an absolute http(s) URL, at most 2048 long.")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise EndpointRefused("url", "url must be an absolute http(s) URL.")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused("url", "url must not carry credentials; use the signing secret.")
    if parts.fragment:
        raise EndpointRefused("url", "url must not have a fragment.")
    if parts.scheme == "http" and require_https and parts.hostname not in _LOOPBACK:
        raise EndpointRefused("url", "url must use https.")
    return url


def check_events(events: Sequence[str]) -> tuple[str, ...]:
    if not events:
        raise EndpointRefused("events", "events must name at least one event type.")
    unknown = sorted({e for e in events if e not in EVENT_TYPES})
    if unknown:
        raise EndpointRefused("events", f"unknown event types; known: {', '.join(EVENT_TYPES)}.")
    # Kept in API.md's order, each once.
    return tuple(e for e in EVENT_TYPES if e in events)


class Subscriptions:
    def __init__(self, cipher: FieldCipher, *, require_https: bool) -> None:
        self._cipher = cipher
        self._require_https = require_https

    def create(self, conn: Connection, url: str, events: Sequence[str]) -> tuple[Endpoint, str]:
        """The new endpoint and its signing secret (never readable again)."""
        url = check_url(url, require_https=self._require_https)
        wanted = check_events(events)
        active = conn.execute(
            sa.select(sa.func.count()).select_from(_T).where(_T.c.status == "enabled")
        ).scalar_one()
        if active >= MAX_ENDPOINTS:
            raise EndpointRefused("url", f"at most {MAX_ENDPOINTS} endpoints may be enabled.")
        endpoint = Endpoint(
            id=f"whe_{secrets.token_hex(16)}",
            url=url,
            events=wanted,
            status="enabled",
            created_at=datetime.now(UTC),
        )
        secret = new_secret()
        conn.execute(
            sa.insert(_T),
            {
                "id": endpoint.id,
                "url": endpoint.url,
                "events": ",".join(endpoint.events),
                "secret_enc": self.seal(endpoint.id, secret),
                "status": endpoint.status,
                "created_at": endpoint.created_at,
            },
        )
        return endpoint, secret

    def seal(self, endpoint_id: str, secret: str) -> bytes:
        return self._cipher.encrypt(secret, table=TABLE, column="secret", row_id=endpoint_id)

    def unseal(self, endpoint_id: str, blob: bytes) -> str:
        return self._cipher.decrypt(blob, table=TABLE, column="secret", row_id=endpoint_id)

    @staticmethod
    def list(conn: Connection) -> list[Endpoint]:
        rows = conn.execute(sa.select(_T).order_by(_T.c.created_at, _T.c.id))
        return [_endpoint(r) for r in rows]

    @staticmethod
    def get(conn: Connection, endpoint_id: str) -> Endpoint | None:
        row = conn.execute(sa.select(_T).where(_T.c.id == endpoint_id)).first()
        return _endpoint(row) if row is not None else None

    @staticmethod
    def disable(conn: Connection, endpoint_id: str) -> Endpoint | None:
        """Stop delivering to it; what is still owed to it is canceled by the deliverer."""
        conn.execute(
            sa.update(_T)
            .where(_T.c.id == endpoint_id, _T.c.status == "enabled")
            .values(status="disabled", disabled_at=datetime.now(UTC))
        )
        return Subscriptions.get(conn, endpoint_id)


def _endpoint(row: sa.Row[tuple[object, ...]]) -> Endpoint:
    m = row._mapping
    return Endpoint(
        id=m["id"],
        url=m["url"],
        events=tuple(e for e in m["events"].split(",") if e),
        status=m["status"],
        created_at=as_utc(m["created_at"]),
    )
