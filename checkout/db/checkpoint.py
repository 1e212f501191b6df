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

PASSIVE alone lets the log grow without end under steady writes: SQLite starts the log
over only when a writer begins while every frame has been copied back, and with a commit
every few milliseconds one always lands first. (Measured: 18,000 webhook deliveries left
a 122 MB log beside a 38 MB database, and each insert cost twice what it did at the
start.) So once a PASSIVE round leaves more than ``RESTART_FRAMES`` frames in the log,
a RESTART follows: it holds the write lock only to copy the few frames written since the
PASSIVE round and to sync, then the next writer starts the log from its beginning.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading

CHECKPOINT_INTERVAL = 0.5  # seconds; ~2 MB of log at the benchmark's write rate
RESTART_FRAMES = 4096  # pages (16 MiB of 4 KiB pages): above this the log is started over


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
    def checkpoint(conn: sqlite3.Connection, *, restart_frames: int = RESTART_FRAMES) -> None:
        # A failed round only leaves the log longer; the next one tries again.
        with contextlib.suppress(sqlite3.Error):
            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            # (busy, frames in the log, frames copied back); -1s when not in WAL mode.
            if row is not None and row[1] >= restart_frames:
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
