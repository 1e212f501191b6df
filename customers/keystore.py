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
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


# When a key stopped being primary. Writers cache an owner's primary key id for a while,
# so a key is deleted only once it has been out of that role longer than any cache holds
# it; otherwise a value written under it just before its retirement would be lost.
DEMOTED_KEYS = sa.Table(
    "demoted_keys",
    _META,
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("demoted_at", sa.DateTime(timezone=True), nullable=False),
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
        # The same keys made ready for AES-GCM (key schedule done once), for the vault's
        # hot path; same expiry as the key they were made from, dropped with it.
        self._ciphers: dict[str, tuple[float, AESGCM]] = {}
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

    def cipher(self, key_id: str) -> AESGCM | None:
        """The key as an AES-GCM cipher, or None if it never existed or was destroyed.
        Cached exactly as long as :meth:`dek` caches the key itself."""
        hit = self._ciphers.get(key_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        dek = self.dek(key_id)
        if dek is None:
            return None
        until = self._deks.get(key_id, (time.monotonic(), b""))[0]
        aead = AESGCM(dek)
        with self._lock:
            self._ciphers[key_id] = (until, aead)
        return aead

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

    @property
    def cache_seconds(self) -> float:
        return self._ttl

    def primary_flags(self, key_ids: list[str]) -> dict[str, bool]:
        """For each key id that still exists: is it its owner's primary key?"""
        out: dict[str, bool] = {}
        with self._engine.connect() as conn:
            for i in range(0, len(key_ids), 500):
                chunk = key_ids[i : i + 500]
                q = sa.select(DATA_KEYS.c.id, DATA_KEYS.c.is_primary).where(
                    DATA_KEYS.c.id.in_(chunk)
                )
                out.update({str(r[0]): bool(r[1]) for r in conn.execute(q)})
        return out

    def kek_counts(self) -> dict[str, int]:
        """How many data keys each KEK wraps (a KEK rotation is done when one remains)."""
        q = sa.select(DATA_KEYS.c.kek_id, sa.func.count()).group_by(DATA_KEYS.c.kek_id)
        with self._engine.connect() as conn:
            return {str(k): int(n) for k, n in conn.execute(q)}

    @property
    def kek_id(self) -> str:
        return self._provider.kek_id

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
        return self.rotate_owners([owner])[owner]

    def owners(self, *, after: str | None = None, limit: int = 1000) -> list[str]:
        """Owners that hold a primary key, in order (a walk over every customer's keys)."""
        q = (
            sa.select(DATA_KEYS.c.owner)
            .where(DATA_KEYS.c.is_primary == sa.true())
            .order_by(DATA_KEYS.c.owner)
            .limit(limit)
        )
        if after is not None:
            q = q.where(DATA_KEYS.c.owner > after)
        with self._engine.connect() as conn:
            return [str(o) for o in conn.execute(q).scalars()]

    def count_owners(self) -> int:
        q = sa.select(sa.func.count()).where(DATA_KEYS.c.is_primary == sa.true())
        with self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def rotate_all(self, *, page: int = 1000) -> int:
        """A new primary key for every owner that has one, a page of owners per
        transaction (a million customers never sit in one). How many owners."""
        made, after = 0, None
        while owners := self.owners(after=after, limit=page):
            made += len(self.rotate_owners(owners))
            after = owners[-1]
        return made

    def rotate_owners(self, owners: list[str]) -> dict[str, str]:
        """A new primary key for each owner, in one transaction: owner -> new key id.
        An erased owner gets none (their keys stay destroyed)."""
        now = datetime.now(UTC)
        made: dict[str, str] = {}
        with self._engine.begin() as conn:
            gone = set(
                conn.execute(
                    sa.select(DESTROYED_OWNERS.c.owner).where(DESTROYED_OWNERS.c.owner.in_(owners))
                ).scalars()
            )
            live = [o for o in owners if o not in gone]
            if not live:
                return made
            old = list(
                conn.execute(
                    sa.select(DATA_KEYS.c.id).where(
                        DATA_KEYS.c.owner.in_(live), DATA_KEYS.c.is_primary == sa.true()
                    )
                ).scalars()
            )
            conn.execute(
                sa.update(DATA_KEYS)
                .where(DATA_KEYS.c.owner.in_(live), DATA_KEYS.c.is_primary == sa.true())
                .values(is_primary=False)
            )
            if old:
                conn.execute(
                    sa.insert(DEMOTED_KEYS), [{"key_id": k, "demoted_at": now} for k in old]
                )
            rows = []
            for owner in live:
                made[owner] = f"dk_{secrets.token_hex(16)}"
                rows.append(self._row(made[owner], owner, primary=True))
            conn.execute(sa.insert(DATA_KEYS), rows)
        with self._lock:
            for owner in live:
                self._primary.pop(owner, None)
        return made

    def rewrap(self, *, batch: int = 500) -> int:
        """Re-wrap every data key not under the current KEK (after a KEK rotation): the
        data keys themselves do not change, so no ciphertext needs touching. Each row is
        written only if it still holds what was read. How many were re-wrapped."""
        current = self._provider.kek_id
        done = 0
        while True:
            with self._engine.begin() as conn:
                rows = conn.execute(
                    sa.select(DATA_KEYS.c.id, DATA_KEYS.c.wrapped)
                    .where(DATA_KEYS.c.kek_id != current)
                    .order_by(DATA_KEYS.c.id)
                    .limit(batch)
                ).all()
                if not rows:
                    return done
                for key_id, wrapped in rows:
                    dek = self._provider.unwrap(bytes(wrapped), context=key_id)
                    conn.execute(
                        sa.update(DATA_KEYS)
                        .where(DATA_KEYS.c.id == key_id, DATA_KEYS.c.wrapped == wrapped)
                        .values(kek_id=current, wrapped=self._provider.wrap(dek, context=key_id))
                    )
                done += len(rows)

    def retire_unused(self, in_use: set[str], *, grace_seconds: float | None = None) -> int:
        """Delete the non-primary keys that no stored value names any more and that
        stopped being primary longer ago than writers cache a primary key. How many."""
        grace = self._ttl * 2 if grace_seconds is None else grace_seconds
        cutoff = datetime.now(UTC).timestamp() - grace
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(DATA_KEYS.c.id, DEMOTED_KEYS.c.demoted_at)
                .select_from(
                    DATA_KEYS.outerjoin(DEMOTED_KEYS, DEMOTED_KEYS.c.key_id == DATA_KEYS.c.id)
                )
                .where(DATA_KEYS.c.is_primary == sa.false())
            ).all()
        # A key demoted before demotions were recorded has no row: long enough ago.
        doomed = [
            str(k)
            for k, at in rows
            if str(k) not in in_use and (at is None or as_utc(at).timestamp() <= cutoff)
        ]
        for key_id in doomed:
            self.retire(key_id)
        return len(doomed)

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
            conn.execute(sa.delete(DEMOTED_KEYS).where(DEMOTED_KEYS.c.key_id.in_(ids)))
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
                self._ciphers.pop(key_id, None)
            self._primary.pop(owner, None)
        return len(ids)

    def retire(self, key_id: str) -> None:
        """Delete an old key once no ciphertext names it (after rotation finished)."""
        with self._engine.begin() as conn:
            gone = conn.execute(
                sa.delete(DATA_KEYS).where(
                    DATA_KEYS.c.id == key_id, DATA_KEYS.c.is_primary == sa.false()
                )
            ).rowcount
            if gone:
                conn.execute(sa.delete(DEMOTED_KEYS).where(DEMOTED_KEYS.c.key_id == key_id))
        with self._lock:
            self._deks.pop(key_id, None)
            self._ciphers.pop(key_id, None)

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
