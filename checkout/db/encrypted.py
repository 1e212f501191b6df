"""Every encrypted column of the main database, for rotation and ``keys status``.

The associated data each was written with (``customers.vault``) is table, the column name
given here as ``aad_column``, and the row id built from ``row_id``'s columns; these must
match the code that writes them (``checkout/store/personal.py``, the ``Encrypted``
column types of ``customers/tables.py``, ``webhooks/inbox.py``,
``checkout/web/idempotency.py``, ``webhooks/subscriptions.py``). A test fails when a
``*_enc`` or ``Encrypted`` column exists that is not listed here. ``owner`` names the
column holding the customer whose key a value is under (NULL: the system's).
"""

from __future__ import annotations

from customers.rotation import EncryptedColumn

_CONTACT = ("email", "shipping_address", "billing_address")

ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    # A customer's checkouts and orders are under the customer's own key; guests' under
    # the system's (customer_id NULL).
    *(
        EncryptedColumn(table, f"{c}_enc", c, "id", ("id",), owner="customer_id")
        for table in ("checkouts", "orders")
        for c in _CONTACT
    ),
    *(
        EncryptedColumn("customers", f"{c}_enc", c, "id", ("id",), owner="id")
        for c in ("email", "name", "phone", "addresses")
    ),
    *(
        EncryptedColumn("email_outbox", f"{c}_enc", c, "id", ("id",), owner="customer_id")
        for c in ("to", "data")
    ),
    # A staff member's email and TOTP secret are under the member's own key.
    *(
        EncryptedColumn("staff_members", f"{c}_enc", c, "id", ("id",), owner="id")
        for c in ("email", "totp_secret")
    ),
    EncryptedColumn("webhook_events", "payload_enc", "payload", "id", ("provider", "event_id")),
    EncryptedColumn("idempotency_keys", "response_enc", "response", "id", ("actor", "key")),
    EncryptedColumn("webhook_endpoints", "secret_enc", "secret", "id", ("id",)),
)
