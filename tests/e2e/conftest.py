"""The ``served`` fixture: a real ``checkout serve`` with its emulators, seeded; and
``private_pg``, a PostgreSQL server of the test's own for fault tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.private_pg import private_pg
from tests.e2e.served import Served, serving

__all__ = ["private_pg", "served"]


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    with serving(db_url, tmp_path) as instance:
        yield instance
