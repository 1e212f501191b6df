"""The email outbox: emails decided in a transaction are written in that transaction, and
sent after it commits by whoever drains the table (the worker loop).

So a registration that rolls back sends nothing, and one that commits sends its email
even if the process dies right after. Recipient and content are encrypted under the
recipient customer's key (erasure shreds a queued email too) and cleared once sent.
Delivery is at least once: a sender that dies mid-send leaves its claim to expire, and
the email goes out again.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from customers.column import Seal
from customers.masking import Personal, mask_email
from customers.pii import PiiDecryptError
from customers.tables import EmailOutboxRow
from customers.vault import Vault

_O: sa.Table = EmailOutboxRow.__table__  # type: ignore[attr-defined]
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    id: str
    kind: str
    to: Personal[str]
    # Template values; may hold a secret (a verification token), so never printed.
    data: dict[str, str] = field(repr=False)


class EmailOutbox:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def __repr__(self) -> str:
        return "EmailOutbox()"

    def enqueue(
        self,
        conn: Connection,
        *,
        customer_id: str,
        kind: str,
        to: str,
        data: dict[str, str],
        now: datetime,
    ) -> str:
        email_id = "eml_" + secrets.token_hex(12)

        def seal(value: str) -> Seal:
            return Seal(self._vault, value, row_id=email_id, owner=customer_id)

        conn.execute(
            sa.insert(_O),
            {
                "id": email_id,
                "customer_id": customer_id,
                "kind": kind,
                "to_enc": seal(to),
                "data_enc": seal(json.dumps(data, separators=(",", ":"))),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
        return email_id

    def claim(self, conn: Connection, *, now: datetime, limit: int = 20) -> list[OutgoingEmail]:
        """Due emails, each leased to this caller for :data:`LEASE`."""
        q = (
            sa.select(_O.c.id, _O.c.kind, _O.c.to_enc, _O.c.data_enc, _O.c.attempts)
            .where(_O.c.status == "pending", _O.c.next_attempt_at <= now)
            .order_by(_O.c.next_attempt_at, _O.c.id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        out: list[OutgoingEmail] = []
        for row in conn.execute(q).all():
            attempts = row.attempts + 1
            done = attempts >= MAX_ATTEMPTS
            conn.execute(
                sa.update(_O)
                .where(_O.c.id == row.id)
                .values(attempts=attempts, next_attempt_at=now + LEASE * attempts)
            )
            try:
                if row.to_enc is None or row.data_enc is None:
                    raise PiiDecryptError("cleared")
                to = row.to_enc.open(self._vault, row.id, mask_email)
                data = json.loads(row.data_enc.open(self._vault, row.id).expose())
            except PiiDecryptError:
                # The customer was erased since (their key is gone): nothing to send.
                self._finish(conn, row.id, "failed", now)
                continue
            if done:
                # This is the last try; should it fail too, the row stays claimed for good.
                conn.execute(sa.update(_O).where(_O.c.id == row.id).values(status="failed"))
            out.append(OutgoingEmail(row.id, row.kind, to, data))
        return out

    def sent(self, conn: Connection, email_id: str, *, now: datetime) -> None:
        self._finish(conn, email_id, "sent", now)

    def _finish(self, conn: Connection, email_id: str, status: str, now: datetime) -> None:
        # Recipient and content are not needed once the outcome is known.
        conn.execute(
            sa.update(_O)
            .where(_O.c.id == email_id)
            .values(status=status, to_enc=None, data_enc=None, sent_at=now)
        )

    def pending(self, conn: Connection) -> int:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(_O).where(_O.c.status == "pending")
            ).scalar_one()
        )
