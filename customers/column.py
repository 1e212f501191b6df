"""An encrypted column type for SQLModel/SQLAlchemy tables.

``Field(sa_type=Encrypted("customers", "email"))`` makes a column that cannot hold
plaintext: binding a ``str`` or ``bytes`` to it raises. What goes in is a :class:`Seal`
(a value, the row it belongs to, and the vault and owner to encrypt with), and the type
encrypts it at bind time with its own table and column as associated data, so the binding
to (table, column, row) cannot be got wrong by the caller. What comes out is a
:class:`Sealed` blob, opened only through the vault with the row id, into a masked
:class:`~customers.masking.Personal`.

The row id is part of the associated data, and a type never sees the row it is bound for,
which is why it travels in the :class:`Seal`; the vault is handed in the same way, so the
type holds no global key material.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from pydantic_core import core_schema
from sqlalchemy.types import TypeDecorator

from customers.masking import Personal, mask_text
from customers.vault import Vault, key_id_of


class Seal:
    """A value on its way into an encrypted column."""

    __slots__ = ("_owner", "_row_id", "_value", "_vault")

    def __init__(
        self,
        vault: Vault,
        value: Personal[str] | str,
        *,
        row_id: str,
        owner: str | None = None,
    ) -> None:
        self._vault = vault
        self._value = value.expose() if isinstance(value, Personal) else value
        self._row_id = row_id
        self._owner = owner

    def __repr__(self) -> str:
        return f"Seal(row_id={self._row_id!r})"

    def encrypt(self, table: str, column: str) -> bytes:
        return self._vault.encrypt(
            self._value, table=table, column=column, row_id=self._row_id, owner=self._owner
        )


class Sealed:
    """A value as stored: ciphertext naming its key. Reads need the vault and the row id."""

    __slots__ = ("blob", "column", "table")

    def __init__(self, blob: bytes, table: str, column: str) -> None:
        self.blob = blob
        self.table = table
        self.column = column

    def __repr__(self) -> str:
        return f"Sealed({self.table}.{self.column}, key={self.key_id!r})"

    @property
    def key_id(self) -> str | None:
        return key_id_of(self.blob)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        # A SQLModel field typed ``Sealed`` accepts only a Sealed: never plaintext.
        return core_schema.is_instance_schema(cls)

    def open(
        self, vault: Vault, row_id: str, mask: Callable[[str], str] = mask_text
    ) -> Personal[str]:
        value = vault.decrypt(self.blob, table=self.table, column=self.column, row_id=row_id)
        return Personal(value, mask(value))


class Encrypted(TypeDecorator[Any]):
    impl = sa.LargeBinary
    cache_ok = True

    def __init__(self, table: str, column: str) -> None:
        super().__init__()
        self.table = table
        self.column = column

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, Seal):
            return value.encrypt(self.table, self.column)
        if isinstance(value, Sealed):
            if (value.table, value.column) != (self.table, self.column):
                raise TypeError("a sealed value belongs to its own column")
            return value.blob  # unchanged ciphertext (a row rewritten, say)
        raise TypeError(f"{self.table}.{self.column} is encrypted: bind a Seal, never plaintext")

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Sealed | None:
        if value is None:
            return None
        return Sealed(bytes(value), self.table, self.column)
