"""The customers table: accounts whose personal fields are under the customer's own key.

Plain functions on the caller's ``Connection`` (one registration or sign-in is one
transaction) and the vault. Emails are found by their blind index, never decrypted to be
compared. An erased customer keeps its row (orders point at it) without any personal
field, password or email index, so it can neither sign in nor be found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from customers.column import Seal, Sealed
from customers.masking import Personal, mask_email, mask_text
from customers.tables import CustomerRow
from customers.timestamps import as_utc
from customers.vault import Vault

_C: sa.Table = CustomerRow.__table__  # type: ignore[attr-defined]

Address = dict[str, Any]


def _utc(ts: datetime | None) -> datetime | None:
    return None if ts is None else as_utc(ts)


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    email: Personal[str]
    email_verified_at: datetime | None
    name: Personal[str] | None
    phone: Personal[str] | None
    addresses: Personal[list[Address]]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a sign-in needs of an account: its id and password hash (never printed)."""

    customer_id: str
    password_hash: str = ""

    def __repr__(self) -> str:
        return f"Credentials(customer_id={self.customer_id!r})"


@dataclass(frozen=True, slots=True)
class Profile:
    """New values for a PATCH; a field not in ``given`` is left as it is, None clears."""

    name: str | None = None
    phone: str | None = None
    addresses: list[Address] | None = None
    given: frozenset[str] = frozenset()


class Customers:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def __repr__(self) -> str:
        return "Customers()"

    def _seal(self, customer_id: str, value: str | None) -> Seal | None:
        if value is None:
            return None
        return Seal(self._vault, value, row_id=customer_id, owner=customer_id)

    def insert(
        self,
        conn: Connection,
        *,
        customer_id: str,
        email: str,
        email_index: str,
        password_hash: str,
        name: str | None,
        phone: str | None,
        now: datetime,
    ) -> None:
        """Raises ``sqlalchemy.exc.IntegrityError`` when the email index is taken."""
        conn.execute(
            sa.insert(_C),
            {
                "id": customer_id,
                "email_enc": self._seal(customer_id, email),
                "email_index": email_index,
                "name_enc": self._seal(customer_id, name),
                "phone_enc": self._seal(customer_id, phone),
                "addresses_enc": None,
                "password_hash": password_hash,
                "created_at": now,
                "updated_at": now,
            },
        )

    def exists_with_email(self, conn: Connection, email_index: str) -> str | None:
        """The id of the live account with this email, if any."""
        found = conn.execute(sa.select(_C.c.id).where(_C.c.email_index == email_index)).scalar()
        return None if found is None else str(found)

    def credentials(self, conn: Connection, email_index: str) -> Credentials | None:
        row = conn.execute(
            sa.select(_C.c.id, _C.c.password_hash).where(
                _C.c.email_index == email_index, _C.c.erased_at.is_(None)
            )
        ).first()
        if row is None or row.password_hash is None:
            return None
        return Credentials(row.id, row.password_hash)

    def password_hash(self, conn: Connection, customer_id: str) -> str | None:
        return conn.execute(
            sa.select(_C.c.password_hash).where(_C.c.id == customer_id, _C.c.erased_at.is_(None))
        ).scalar()

    def set_password_hash(
        self, conn: Connection, customer_id: str, new: str, *, old: str, now: datetime
    ) -> bool:
        """Replace the hash only if it is still `old` (nobody changed it meanwhile)."""
        result = conn.execute(
            sa.update(_C)
            .where(_C.c.id == customer_id, _C.c.password_hash == old)
            .values(password_hash=new, updated_at=now)
        )
        return bool(result.rowcount)

    def get(self, conn: Connection, customer_id: str) -> Customer | None:
        row = conn.execute(
            sa.select(_C).where(_C.c.id == customer_id, _C.c.erased_at.is_(None))
        ).first()
        if row is None:
            return None
        return self._customer(row)

    def email_index_of(self, conn: Connection, customer_id: str) -> str | None:
        return conn.execute(
            sa.select(_C.c.email_index).where(_C.c.id == customer_id, _C.c.erased_at.is_(None))
        ).scalar()

    def update_profile(
        self, conn: Connection, customer_id: str, profile: Profile, *, now: datetime
    ) -> None:
        values: dict[str, Any] = {"updated_at": now}
        if "name" in profile.given:
            values["name_enc"] = self._seal(customer_id, profile.name)
        if "phone" in profile.given:
            values["phone_enc"] = self._seal(customer_id, profile.phone)
        if "addresses" in profile.given:
            addresses = None if profile.addresses is None else _dump(profile.addresses)
            values["addresses_enc"] = self._seal(customer_id, addresses)
        conn.execute(
            sa.update(_C).where(_C.c.id == customer_id, _C.c.erased_at.is_(None)).values(values)
        )

    def mark_verified(self, conn: Connection, customer_id: str, *, now: datetime) -> None:
        conn.execute(
            sa.update(_C)
            .where(_C.c.id == customer_id, _C.c.email_verified_at.is_(None))
            .values(email_verified_at=now, updated_at=now)
        )

    def _customer(self, row: Any) -> Customer:
        def open_(sealed: Sealed | None, mask: Any = mask_text) -> Personal[str] | None:
            return None if sealed is None else sealed.open(self._vault, row.id, mask)

        email = open_(row.email_enc, mask_email)
        assert email is not None  # only erased rows lack an email, and they are not read
        raw = open_(row.addresses_enc)
        addresses: list[Address] = [] if raw is None else json.loads(raw.expose())
        return Customer(
            id=row.id,
            email=email,
            email_verified_at=_utc(row.email_verified_at),
            name=open_(row.name_enc),
            phone=open_(row.phone_enc),
            addresses=Personal(addresses, "[***]"),
            created_at=_utc(row.created_at) or row.created_at,
        )


def _dump(addresses: list[Address]) -> str:
    return json.dumps(addresses, separators=(",", ":"))
