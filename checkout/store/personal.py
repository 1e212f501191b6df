"""Encrypting and decrypting a row's personal columns, bound to that row and its owner."""

from __future__ import annotations

import json
from typing import Any, Protocol

from checkout.domain.checkout import Address, Contact
from customers.blind_index import BlindIndex
from customers.masking import Personal, mask_text


class OwnedCipher(Protocol):
    """The vault as this codec needs it: encryption under an owner's key (None: the
    system's), decryption under whichever key the value names."""

    def encrypt(
        self, plaintext: str, *, table: str, column: str, row_id: str, owner: str | None = None
    ) -> bytes: ...

    def decrypt(self, blob: bytes, *, table: str, column: str, row_id: str) -> str: ...


class ContactCodec:
    """Maps a ``Contact`` to the ``email_enc``/``*_address_enc`` columns of a table, and
    the email's blind index to ``email_index`` (so a customer who verifies that email can
    claim the row)."""

    def __init__(self, cipher: OwnedCipher, table: str, blind_index: BlindIndex) -> None:
        self._cipher = cipher
        self._table = table
        self._index = blind_index

    def for_table(self, table: str) -> ContactCodec:
        return ContactCodec(self._cipher, table, self._index)

    def encode(
        self, contact: Contact, row_id: str, *, owner: str | None = None
    ) -> dict[str, bytes | str | None]:
        """The columns for `contact`, encrypted under `owner`'s key (a signed-in customer)
        or the system's (a guest)."""

        def enc(column: str, value: str | None) -> bytes | None:
            if value is None:
                return None
            return self._cipher.encrypt(
                value, table=self._table, column=column, row_id=row_id, owner=owner
            )

        def addr(p: Personal[Address] | None) -> str | None:
            return None if p is None else json.dumps(p.expose(), separators=(",", ":"))

        email = None if contact.email is None else contact.email.expose()
        return {
            "email_enc": enc("email", email),
            "email_index": None if email is None else self._index.email(email),
            "shipping_address_enc": enc("shipping_address", addr(contact.shipping_address)),
            "billing_address_enc": enc("billing_address", addr(contact.billing_address)),
        }

    def decode(self, row: Any, row_id: str) -> Contact:
        def dec(column: str) -> str | None:
            blob = getattr(row, column + "_enc")
            if blob is None:
                return None
            return self._cipher.decrypt(blob, table=self._table, column=column, row_id=row_id)

        email = dec("email")
        ship = dec("shipping_address")
        bill = dec("billing_address")
        return Contact(
            email=None if email is None else Personal.email(email),
            shipping_address=None if ship is None else _address(ship),
            billing_address=None if bill is None else _address(bill),
        )


def _address(raw: str) -> Personal[Address]:
    value: Address = json.loads(raw)
    return Personal(value, mask_text("address"))
