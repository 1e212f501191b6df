"""WAL checkpoints happen on the checkpointer's thread, never in a pooled connection's
COMMIT (which runs on the event loop): the log is copied back into the database file
while the pooled connections stay open, and they themselves never checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from checkout.db.engine import make_database


def test_the_log_is_checkpointed_off_the_writers(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db = make_database(f"sqlite:///{path}")
    try:
        assert db.checkpointer is not None
        with db.writer.begin() as conn:
            auto = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            assert auto == 0  # pooled connections never checkpoint in a COMMIT
            conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        for batch in range(4):
            with db.writer.begin() as conn:
                conn.execute(
                    sa.text("INSERT INTO t (v) VALUES (:v)"),
                    [{"v": bytes([batch]) * 1000} for _ in range(500)],
                )
        # Two MB went into the log; the main file grows only when a checkpoint copies
        # pages back, which here only the checkpointer's thread does.
        deadline = time.monotonic() + 10
        while path.stat().st_size < 1_500_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size >= 1_500_000
        with db.reader.begin() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2000
    finally:
        db.dispose()
    assert not db.checkpointer.alive
