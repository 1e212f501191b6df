"""order listing indexes: (created_at, id), (status, created_at, id), (email_index, created_at, id)

The staff and integration order lists filter by status, date range or email (its blind
index) and page newest first by keyset on (created_at, id); each filter gets an index
ending in the sort key, so a page is one index range walk however deep it is. The three
single-column indexes they replace are dropped: each is a prefix of its composite.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COMPOSITE = {
    "ix_orders_created_at_id": ["created_at", "id"],
    "ix_orders_status_created_at_id": ["status", "created_at", "id"],
    "ix_orders_email_index_created_at_id": ["email_index", "created_at", "id"],
}
_SINGLE = {
    "ix_orders_created_at": ["created_at"],
    "ix_orders_status": ["status"],
    "ix_orders_email_index": ["email_index"],
}


def upgrade() -> None:
    for name, columns in _COMPOSITE.items():
        op.create_index(name, "orders", columns, unique=False)
    for name in _SINGLE:
        op.drop_index(name, table_name="orders")


def downgrade() -> None:
    for name, columns in _SINGLE.items():
        op.create_index(name, "orders", columns, unique=False)
    for name in _COMPOSITE:
        op.drop_index(name, table_name="orders")
