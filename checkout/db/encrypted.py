"""Every encrypted column of the main database, for rotation and ``keys status``.

The associated data each was written with (``customers.vault``) is table, the column name
given here as ``aad_column``, and the row id built from ``row_id``'s columns; these must
match the code that writes them (``checkout/store/personal.py``, ``webhooks/inbox.py``,
``checkout/web/idempotency.py``, ``webhooks/subscriptions.py``). A test fails when a
``*_enc`` column exists that is not listed here.
"""

from __future__ import annotations

from customers.rotation import EncryptedColumn

_CONTACT = ("email", "shipping_address", "billing_address")

ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    *(EncryptedColumn("checkouts", f"{c}_enc", c, "id", ("id",)) for c in _CONTACT),
    *(EncryptedColumn("orders", f"{c}_enc", c, "id", ("id",)) for c in _CONTACT),
    EncryptedColumn("webhook_events", "payload_enc", "payload", "id", ("provider", "event_id")),
    EncryptedColumn("idempotency_keys", "response_enc", "response", "id", ("actor", "key")),
    EncryptedColumn("webhook_endpoints", "secret_enc", "secret", "id", ("id",)),
)
