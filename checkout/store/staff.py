"""The staff_members table: rows to :class:`StaffMember` and back.

The email and the TOTP secret are ``Encrypted`` columns sealed under the member's own
data key (owner = the member's id); the email is looked up by its blind index, never
decrypted to be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.access.roles import Role
from checkout.access.totp import TotpKey, decode_secret
from checkout.db.tables import StaffMemberRow
from customers.column import Seal, Sealed
from customers.masking import Personal, mask_email
from customers.timestamps import as_utc
from customers.vault import Vault

_S: sa.Table = StaffMemberRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: str
    email: Personal[str]
    role: Role
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StaffCredentials:
    """What a sign-in needs of a member (never printed beyond the id)."""

    member_id: str
    active: bool
    role: Role
    password_hash: str = field(repr=False)
    totp: TotpKey = field(repr=False)
    totp_last_step: int | None = None


@dataclass(frozen=True, slots=True)
class StaffStanding:
    """A member's role and whether they are active, as a request checks it."""

    member_id: str
    role: Role
    active: bool


class StaffStore:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def __repr__(self) -> str:
        return "StaffStore()"

    def _seal(self, member_id: str, value: str) -> Seal:
        return Seal(self._vault, value, row_id=member_id, owner=member_id)

    def insert(
        self,
        conn: Connection,
        *,
        member_id: str,
        email: str,
        email_index: str,
        role: Role,
        password_hash: str,
        totp_secret: str,
        now: datetime,
    ) -> None:
        """Raises ``sqlalchemy.exc.IntegrityError`` when the email index is taken."""
        conn.execute(
            sa.insert(_S),
            {
                "id": member_id,
                "email_enc": self._seal(member_id, email),
                "email_index": email_index,
                "role": role.value,
                "active": True,
                "password_hash": password_hash,
                "totp_secret_enc": self._seal(member_id, totp_secret),
                "totp_last_step": None,
                "created_at": now,
                "updated_at": now,
            },
        )

    def credentials(self, conn: Connection, email_index: str) -> StaffCredentials | None:
        row = conn.execute(sa.select(_S).where(_S.c.email_index == email_index)).first()
        if row is None:
            return None
        sealed: Sealed = row.totp_secret_enc
        secret = sealed.open(self._vault, row.id).expose()
        return StaffCredentials(
            member_id=row.id,
            active=bool(row.active),
            role=Role(row.role),
            password_hash=row.password_hash,
            totp=TotpKey(decode_secret(secret)),
            totp_last_step=row.totp_last_step,
        )

    def use_totp_step(self, conn: Connection, member_id: str, step: int) -> bool:
        """Record `step` as used, only if it is later than the last one: the one
        statement two sign-ins with the same code cannot both pass."""
        result = conn.execute(
            sa.update(_S)
            .where(
                _S.c.id == member_id,
                sa.or_(_S.c.totp_last_step.is_(None), _S.c.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return bool(result.rowcount)

    def password_hash(self, conn: Connection, member_id: str) -> str | None:
        return conn.execute(sa.select(_S.c.password_hash).where(_S.c.id == member_id)).scalar()

    def set_password_hash(
        self, conn: Connection, member_id: str, new: str, *, old: str, now: datetime
    ) -> bool:
        """Replace the hash only if it is still `old` (nobody changed it meanwhile)."""
        result = conn.execute(
            sa.update(_S)
            .where(_S.c.id == member_id, _S.c.password_hash == old)
            .values(password_hash=new, updated_at=now)
        )
        return bool(result.rowcount)

    def standing(self, conn: Connection, member_id: str) -> StaffStanding | None:
        row = conn.execute(
            sa.select(_S.c.id, _S.c.role, _S.c.active).where(_S.c.id == member_id)
        ).first()
        if row is None:
            return None
        return StaffStanding(row.id, Role(row.role), bool(row.active))

    def get(
        self, conn: Connection, member_id: str, *, for_update: bool = False
    ) -> StaffMember | None:
        q = sa.select(_S).where(_S.c.id == member_id)
        if for_update:
            q = q.with_for_update()
        row = conn.execute(q).first()
        return None if row is None else self._member(row)

    def page(
        self, conn: Connection, *, limit: int, starting_after: str | None
    ) -> tuple[list[StaffMember], bool]:
        """Members in id order (ids are random, so this is a stable, arbitrary order)."""
        q = sa.select(_S).order_by(_S.c.id).limit(limit + 1)
        if starting_after is not None:
            q = q.where(_S.c.id > starting_after)
        rows = [self._member(r) for r in conn.execute(q)]
        return rows[:limit], len(rows) > limit

    def lock_active_admins(self, conn: Connection) -> list[str]:
        """The ids of active admins, their rows locked until the transaction ends (on
        PostgreSQL), so two admins demoting each other cannot both pass the check."""
        q = (
            sa.select(_S.c.id)
            .where(_S.c.role == Role.ADMIN.value, _S.c.active == sa.true())
            .order_by(_S.c.id)
            .with_for_update()
        )
        return [str(i) for i in conn.execute(q).scalars()]

    def update(
        self,
        conn: Connection,
        member_id: str,
        *,
        role: Role | None,
        active: bool | None,
        now: datetime,
    ) -> None:
        values: dict[str, Any] = {"updated_at": now}
        if role is not None:
            values["role"] = role.value
        if active is not None:
            values["active"] = active
        conn.execute(sa.update(_S).where(_S.c.id == member_id).values(values))

    def _member(self, row: Any) -> StaffMember:
        sealed: Sealed = row.email_enc
        return StaffMember(
            id=row.id,
            email=sealed.open(self._vault, row.id, mask_email),
            role=Role(row.role),
            active=bool(row.active),
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
        )
