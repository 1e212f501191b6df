"""The migrations produce exactly the schema the models describe, on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import checkout.db.tables  # noqa: F401
import customers.tables  # noqa: F401
from checkout.db.engine import make_database


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    db = make_database(db_url, pool_size=1)
    try:
        with db.engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(mc, SQLModel.metadata)
    finally:
        db.dispose()
    assert diff == []
