"""Data keys, wrapped, in a store apart from the main database.

Each owner ("system" for data not tied to a customer, else a customer id) has one primary
data key that new ciphertexts use, and may have older ones that existing ciphertexts
still name. The store lives in its own database (its own SQLite file in dev), so a copy or
backup of the main database holds ciphertext and never a key that opens it; destroying a
customer's keys (erasure) therefore also erases them from every backup of the main
database. On SQLite, ``secure_delete`` overwrites a destroyed key's bytes in the file.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from customers.keys import KeyProvider
from customers.timestamps import as_utc

SYSTEM = "system"

_META = sa.MetaData()
DATA_KEYS = sa.Table(
    "data_keys",
    _META,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False, index=True),
    sa.Column("kek_id", sa.String(64), nullable=False),
    sa.Column("wrapped", sa.LargeBinary, nullable=False),
    sa.Column("is_primary", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # One primary per owner, even when two processes create it at once.
    sa.Index(
        "uq_data_keys_one_primary",
        "owner",
        unique=True,
        sqlite_where=sa.text("is_primary"),
        postgresql_where=sa.text("is_primary"),
    ),
)


# Owners whose keys were destroyed: no key is ever made for them again, so a request
# that was already running when the customer was erased cannot write new ciphertext
# under a fresh key (it fails instead). Holds ids only, nothing personal.
DESTROYED_OWNERS = sa.Table(
    "destroyed_owners",
    _META,
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=False),
)


class OwnerErased(Exception):
    """The owner's keys were destroyed: nothing may be encrypted for them any more."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    owner: str
    kek_id: str
    is_primary: bool
    created_at: datetime


class KeyStore:
    def __init__(self, url: str, provider: KeyProvider, *, cache_seconds: float = 300) -> None:
        self._provider = provider
        self._engine = sa.create_engine(url, pool_pre_ping=True)
        if self._engine.dialect.name == "sqlite":
            sa.event.listen(self._engine, "connect", _sqlite_pragmas)
        _META.create_all(self._engine)
        self._ttl = cache_seconds
        self._lock = threading.Lock()
        # Unwrapped keys and owners' primary key ids, for a while: unwrapping is a KMS
        # round trip in production. A destroyed key lingers here at most ``ttl``.
        self._deks: dict[str, tuple[float, bytes]] = {}
        self._primary: dict[str, tuple[float, str]] = {}
        self._owners: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"KeyStore({self._engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self._engine.dispose()

    # -- reading --------------------------------------------------------------------

    def dek(self, key_id: str) -> bytes | None:
        """The unwrapped key, or None if it never existed or was destroyed."""
        now = time.monotonic()
        hit = self._deks.get(key_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(DATA_KEYS.c.wrapped).where(DATA_KEYS.c.id == key_id)
            ).first()
        if row is None:
            return None
        dek = self._provider.unwrap(row[0], context=key_id)
        with self._lock:
            self._deks[key_id] = (now + self._ttl, dek)
        return dek

    def primary(self, owner: str = SYSTEM) -> tuple[str, bytes]:
        """The owner's primary key (id, key), made on first use."""
        now = time.monotonic()
        hit = self._primary.get(owner)
        if hit is not None and hit[0] > now:
            dek = self.dek(hit[1])
            if dek is not None:
                return hit[1], dek
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(DATA_KEYS.c.id).where(
                    DATA_KEYS.c.owner == owner, DATA_KEYS.c.is_primary == sa.true()
                )
            ).first()
        key_id = row[0] if row is not None else self._create_primary(owner)
        dek = self.dek(key_id)
        if dek is None:  # destroyed between the two reads: make a fresh one
            key_id = self._create_primary(owner)
            dek = self.dek(key_id)
            assert dek is not None
        with self._lock:
            self._primary[owner] = (now + self._ttl, key_id)
        return key_id, dek

    def owner_of(self, key_id: str) -> str | None:
        """Whose key this is (None if it is gone): rotation keeps a value with its owner."""
        known = self._owners.get(key_id)
        if known is not None:
            return known  # a key never changes owner
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(DATA_KEYS.c.owner).where(DATA_KEYS.c.id == key_id)).first()
        if row is None:
            return None
        with self._lock:
            self._owners[key_id] = str(row[0])
        return str(row[0])

    def keys(self, owner: str | None = None) -> list[KeyInfo]:
        q = sa.select(DATA_KEYS).order_by(DATA_KEYS.c.created_at, DATA_KEYS.c.id)
        if owner is not None:
            q = q.where(DATA_KEYS.c.owner == owner)
        with self._engine.connect() as conn:
            return [_info(r) for r in conn.execute(q)]

    # -- changing --------------------------------------------------------------------

    def _create_primary(self, owner: str) -> str:
        key_id = f"dk_{secrets.token_hex(16)}"
        try:
            with self._engine.begin() as conn:
                gone = conn.execute(
                    sa.select(DESTROYED_OWNERS.c.owner).where(DESTROYED_OWNERS.c.owner == owner)
                ).first()
                if gone is not None:
                    raise OwnerErased("this owner's keys were destroyed")
                conn.execute(sa.insert(DATA_KEYS), self._row(key_id, owner, primary=True))
        except sa.exc.IntegrityError:
            # Another process made the owner's primary key first: use that one.
            with self._engine.connect() as conn:
                return str(
                    conn.execute(
                        sa.select(DATA_KEYS.c.id).where(
                            DATA_KEYS.c.owner == owner, DATA_KEYS.c.is_primary == sa.true()
                        )
                    ).scalar_one()
                )
        return key_id

    def rotate(self, owner: str = SYSTEM) -> str:
        """A new primary key for ``owner``; older keys stay to open existing ciphertexts
        until re-encryption has moved them (``checkout keys rotate``)."""
        key_id = f"dk_{secrets.token_hex(16)}"
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(DATA_KEYS)
                .where(DATA_KEYS.c.owner == owner, DATA_KEYS.c.is_primary == sa.true())
                .values(is_primary=False)
            )
            conn.execute(sa.insert(DATA_KEYS), self._row(key_id, owner, primary=True))
        with self._lock:
            self._primary.pop(owner, None)
        return key_id

    def destroy(self, owner: str) -> int:
        """Crypto-shred: every key of ``owner`` is deleted, and with it every ciphertext
        under them becomes noise, in this database's backups as well. How many went."""
        if owner == SYSTEM:
            raise ValueError("the system keys are not destroyed this way")
        with self._engine.begin() as conn:
            ids = list(
                conn.execute(sa.select(DATA_KEYS.c.id).where(DATA_KEYS.c.owner == owner)).scalars()
            )
            conn.execute(sa.delete(DATA_KEYS).where(DATA_KEYS.c.owner == owner))
            marked = conn.execute(
                sa.select(DESTROYED_OWNERS.c.owner).where(DESTROYED_OWNERS.c.owner == owner)
            ).first()
            if marked is None:
                conn.execute(
                    sa.insert(DESTROYED_OWNERS),
                    {"owner": owner, "destroyed_at": datetime.now(UTC)},
                )
        with self._lock:
            for key_id in ids:
                self._deks.pop(key_id, None)
            self._primary.pop(owner, None)
        return len(ids)

    def retire(self, key_id: str) -> None:
        """Delete an old key once no ciphertext names it (after rotation finished)."""
        with self._engine.begin() as conn:
            conn.execute(
                sa.delete(DATA_KEYS).where(
                    DATA_KEYS.c.id == key_id, DATA_KEYS.c.is_primary == sa.false()
                )
            )
        with self._lock:
            self._deks.pop(key_id, None)

    def _row(self, key_id: str, owner: str, *, primary: bool) -> dict[str, Any]:
        dek = os.urandom(32)
        return {
            "id": key_id,
            "owner": owner,
            "kek_id": self._provider.kek_id,
            "wrapped": self._provider.wrap(dek, context=key_id),
            "is_primary": primary,
            "created_at": datetime.now(UTC),
        }


def _info(row: Any) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        owner=row.owner,
        kek_id=row.kek_id,
        is_primary=bool(row.is_primary),
        created_at=as_utc(row.created_at),
    )


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    # Deleted pages are zeroed, so a destroyed key's bytes do not stay in the file.
    cur.execute("PRAGMA secure_delete = ON")
    cur.execute("PRAGMA busy_timeout = 5000")
    cur.close()
