"""A PostgreSQL schema of the bench's own, dropped afterwards however the run ends.

The bench never touches anything else in that database: every service and worker it
starts gets a URL whose ``search_path`` is the new schema (as the test suite does).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from bench.errors import BenchError

URL_VARIABLES = ("CHECKOUT_BENCH_DATABASE_URL", "CHECKOUT_TEST_DATABASE_URL")


def default_url() -> str | None:
    """The PostgreSQL server to use when ``--postgres-url`` is not given."""
    for name in URL_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


@contextmanager
def bench_schema(base_url: str) -> Iterator[str]:
    """A fresh, empty schema; yields the URL that points at it."""
    schema = f"checkout_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.SQLAlchemyError as exc:
        admin.dispose()
        raise BenchError(f"PostgreSQL at --postgres-url: {type(exc).__name__}") from exc
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
