"""Encrypting and decrypting a row's personal columns, bound to that row."""

from __future__ import annotations

import json
from typing import Any

from checkout.domain.checkout import Address, Contact
from customers.masking import Personal, mask_text
from customers.pii import FieldCipher


class ContactCodec:
    """Maps a ``Contact`` to the ``email_enc``/``*_address_enc`` columns of a table."""

    def __init__(self, cipher: FieldCipher, table: str) -> None:
        self._cipher = cipher
        self._table = table

    def encode(self, contact: Contact, row_id: str) -> dict[str, bytes | None]:
        def enc(column: str, value: str | None) -> bytes | None:
            if value is None:
                return None
            return self._cipher.encrypt(value, table=self._table, column=column, row_id=row_id)

        def addr(p: Personal[Address] | None) -> str | None:
            return None if p is None else json.dumps(p.expose(), separators=(",", ":"))

        return {
            "email_enc": enc("email", None if contact.email is None else contact.email.expose()),
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
