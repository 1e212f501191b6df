"""Online re-encryption: move every encrypted field onto its owner's primary key.

``checkout keys rotate`` makes a new primary key, then walks each encrypted column in
batches (keyset pagination on the primary key), re-encrypting what is under any other
key. Each batch is its own short transaction and each row is written only if it still
holds the ciphertext that was read (a request that changed it meanwhile wrote it under
the new key already), so the service keeps running. A killed run loses nothing: the old
keys stay until every field has moved, and running again skips what is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from customers.keystore import SYSTEM
from customers.vault import KeyDestroyed, Vault, key_id_of


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    table: str
    column: str  # the database column holding the blob
    aad_column: str  # the column name bound into the associated data
    pk: str  # ordered and unique: the walk's cursor and the update's key
    row_id: tuple[str, ...]  # columns whose values, joined by "/", are the AAD's row id
    owner: str | None = None  # a column naming the owning customer; None: the system


Transaction = Callable[[], AbstractContextManager[Connection]]


@dataclass(frozen=True, slots=True)
class ColumnState:
    """Where one column's stored values stand, counted without decrypting any."""

    column: str
    current: int = 0  # under its owner's primary key
    behind: int = 0  # under an older key of its owner: rotation moves these
    legacy: int = 0  # version 1, the root-derived key: rotation moves these too
    erased: int = 0  # under a destroyed key: unreadable by design, left alone

    @property
    def to_move(self) -> int:
        return self.behind + self.legacy


def _prefix(key_id: str) -> bytes:
    kid = key_id.encode("ascii")
    return bytes([2, len(kid)]) + kid


class Rotation:
    def __init__(self, vault: Vault, columns: Sequence[EncryptedColumn]) -> None:
        self._vault = vault
        self._columns = tuple(columns)

    def status(self, conn: Connection) -> list[tuple[str, str, int]]:
        """(table.column, key id or "v1 (root-derived)", fields) for every stored value."""
        out: list[tuple[str, str, int]] = []
        for col in self._columns:
            t = sa.table(col.table, sa.column(col.column, sa.LargeBinary))
            c = t.c[col.column]
            # The key id sits in the first bytes; grouping on them counts without reading
            # every blob out of the database.
            head = sa.func.substr(c, 1, 64).label("head")
            q = sa.select(head, sa.func.count()).where(c.is_not(None)).group_by(head)
            for raw, n in conn.execute(q):
                kid = key_id_of(bytes(raw)) if raw is not None else None
                out.append((f"{col.table}.{col.column}", kid or "v1 (root-derived)", int(n)))
        return out

    def summary(self, conn: Connection) -> list[ColumnState]:
        """Per column: values current, behind, legacy or erased (``checkout keys status``).
        One line per column, however many customers (and so keys) there are."""
        counts = self.status(conn)
        flags = self._vault.keys.primary_flags(
            sorted({kid for _, kid, _ in counts if kid != "v1 (root-derived)"})
        )
        tally: dict[str, dict[str, int]] = {}
        for where, kid, n in counts:
            t = tally.setdefault(where, {"current": 0, "behind": 0, "legacy": 0, "erased": 0})
            if kid == "v1 (root-derived)":
                t["legacy"] += n
            elif kid not in flags:
                t["erased"] += n
            else:
                t["current" if flags[kid] else "behind"] += n
        return [
            ColumnState(column=f"{c.table}.{c.column}", **tally.get(f"{c.table}.{c.column}", {}))
            for c in self._columns
        ]

    def keys_in_use(self, conn: Connection) -> set[str]:
        """Every key id some stored value names: no key in here may be retired."""
        return {kid for _, kid, _ in self.status(conn) if kid != "v1 (root-derived)"}

    def run(
        self,
        write: Transaction,
        *,
        batch: int = 1000,
        progress: Callable[[str, int], None] | None = None,
    ) -> int:
        """Re-encrypt everything not under its owner's primary key; fields rewritten."""
        total = 0
        for col in self._columns:
            done = 0
            for rewritten in self._walk(write, col, batch):
                done += rewritten
                if progress is not None:
                    progress(f"{col.table}.{col.column}", done)
            total += done
        return total

    def _walk(self, write: Transaction, col: EncryptedColumn, batch: int) -> Iterator[int]:
        cols = {col.pk, col.column, *col.row_id, *([col.owner] if col.owner else [])}
        t = sa.table(col.table, *(sa.column(n) for n in sorted(cols)))
        blob, pk = t.c[col.column], t.c[col.pk]
        system_prefix = _prefix(self._vault.keys.primary(SYSTEM)[0])
        after: Any = None
        while True:
            q = sa.select(t).where(blob.is_not(None)).order_by(pk).limit(batch)
            if after is not None:
                q = q.where(pk > after)
            if col.owner is None:
                # Skip, in the database, what is already under the system's primary key.
                q = q.where(sa.func.substr(blob, 1, len(system_prefix)) != system_prefix)
            with write() as conn:
                rows = conn.execute(q).all()
                if not rows:
                    return
                after = rows[-1]._mapping[col.pk]
                updates = [u for r in rows if (u := self._reencrypt(col, r._mapping))]
                if updates:
                    conn.execute(
                        sa.update(t)
                        .where(pk == sa.bindparam("b_pk"), blob == sa.bindparam("b_old"))
                        .values({col.column: sa.bindparam("b_new")}),
                        updates,
                    )
            yield len(updates)

    def _reencrypt(self, col: EncryptedColumn, row: Any) -> dict[str, Any] | None:
        old = bytes(row[col.column])
        if col.owner is not None:
            owner = row[col.owner] or SYSTEM
        else:
            # No owner column (stored idempotent responses, say): the value stays with
            # whoever's key it is under now, so rotation never undoes a crypto-shred.
            current = key_id_of(old)
            owner = (self._vault.keys.owner_of(current) if current else None) or SYSTEM
        if old.startswith(_prefix(self._vault.keys.primary(owner)[0])):
            return None
        row_id = "/".join(str(row[n]) for n in col.row_id)
        try:
            plain = self._vault.decrypt(old, table=col.table, column=col.aad_column, row_id=row_id)
        except KeyDestroyed:
            return None  # erased: nothing left to move
        new = self._vault.encrypt(
            plain, table=col.table, column=col.aad_column, row_id=row_id, owner=owner
        )
        return {"b_pk": row[col.pk], "b_old": old, "b_new": new}
