"""staff members; the audit log's hash chain

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09 09:00:00.000000
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from checkout.domain.audit_chain import GENESIS, ChainedFields, chain_hash

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _chain_existing_events() -> None:
    """Events written before the chain existed are chained now, in id order (the encoding
    is version 1 of ``checkout/domain/audit_chain.py``, which never changes)."""
    conn = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("id", sa.Integer),
        sa.column("occurred_at", _ts()),
        sa.column("actor_type", sa.String),
        sa.column("actor_id", sa.String),
        sa.column("action", sa.String),
        sa.column("target_type", sa.String),
        sa.column("target_id", sa.String),
        sa.column("request_id", sa.String),
        sa.column("details", sa.JSON),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    prev = GENESIS
    rows = conn.execute(sa.select(events).order_by(events.c.id)).mappings().all()
    for row in rows:
        details = row["details"]
        if isinstance(details, str):  # a driver that hands JSON back as text
            details = json.loads(details)
        fields = ChainedFields(
            occurred_at=row["occurred_at"],
            actor_type=row["actor_type"],
            actor_id=row["actor_id"],
            action=row["action"],
            target_type=row["target_type"],
            target_id=row["target_id"],
            request_id=row["request_id"],
            details=details,
        )
        digest = chain_hash(fields, prev)
        conn.execute(
            sa.update(events).where(events.c.id == row["id"]).values(prev_hash=prev, hash=digest)
        )
        prev = digest


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("email_enc", sa.LargeBinary(), nullable=False),
        sa.Column("email_index", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email_index"),
    )
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_events()
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_audit_events_prev_hash", ["prev_hash"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_constraint("uq_audit_events_prev_hash", type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    op.drop_table("staff_members")
