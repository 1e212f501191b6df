"""WAL checkpoints on a thread of their own, so no request waits on an fsync.

SQLite in WAL mode copies the log back into the database file (a checkpoint) once the log
passes 1,000 pages, and by default the connection whose COMMIT crossed that line does it,
fsync included. Here that connection runs on the event loop (``UnitOfWork``: SQLite work
is inline), so every request in flight would stall for the length of an fsync, tens of
milliseconds on a busy disk, about once a second under write load. Instead the pooled
connections never checkpoint (``wal_autocheckpoint=0``) and this thread runs a PASSIVE
checkpoint every ``interval`` seconds on a connection of its own: PASSIVE never takes the
write lock and never waits for readers, so writers carry on meanwhile, and the fsync
happens off the loop (sqlite3 releases the GIL while it runs).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading

CHECKPOINT_INTERVAL = 0.5  # seconds; ~2 MB of log at the benchmark's write rate


class WalCheckpointer:
    def __init__(self, path: str, *, interval: float = CHECKPOINT_INTERVAL) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=15, check_same_thread=False)
        try:
            while not self._stop.wait(self._interval):
                self.checkpoint(conn)
            self.checkpoint(conn)  # leave the log short for whoever opens the file next
        finally:
            conn.close()

    @staticmethod
    def checkpoint(conn: sqlite3.Connection) -> None:
        # A failed round only leaves the log longer; the next one tries again.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
