"""WAL checkpoints happen on the checkpointer's thread, never in a pooled connection's
COMMIT (which runs on the event loop): the log is copied back into the database file
while the pooled connections stay open, and they themselves never checkpoint."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa

from checkout.db.checkpoint import WalCheckpointer
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


def test_past_restart_frames_the_round_restarts_the_log(tmp_path: Path) -> None:
    # PASSIVE rounds alone never let the log start over while commits keep landing (one
    # always arrives before every frame is copied back), so a long log is followed by a
    # RESTART, which waits for the writers and readers of the moment and lets the next
    # commit write from the log's beginning. Below the threshold, PASSIVE only.
    path = str(tmp_path / "w.db")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (v BLOB)")
    for _ in range(100):
        writer.execute("INSERT INTO t VALUES (?)", (b"x" * 3000,))
    probe = sqlite3.connect(path, isolation_level=None)
    ran: list[str] = []
    probe.set_trace_callback(ran.append)
    try:
        WalCheckpointer.checkpoint(probe, restart_frames=1_000_000)
        assert ran == ["PRAGMA wal_checkpoint(PASSIVE)"]
        ran.clear()
        WalCheckpointer.checkpoint(probe, restart_frames=50)  # the log holds ~300 frames
        assert ran == ["PRAGMA wal_checkpoint(PASSIVE)", "PRAGMA wal_checkpoint(RESTART)"]
    finally:
        probe.close()
        writer.close()
