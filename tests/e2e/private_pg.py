"""A PostgreSQL server of the test's own, to stop and restart at will.

The machine's shared PostgreSQL serves other processes, so fault tests never touch it:
they ``initdb`` a throw-away cluster on a free port (fsync off, trust auth, loopback
only) and drive it with ``pg_ctl``. As root, the server runs as the ``postgres`` user,
since PostgreSQL refuses to run as root. Tests skip, naming the reason, only when no
``initdb`` is installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.served import free_port


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` with an initdb, else one on PATH."""

    def major(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """One throw-away cluster: ``start``, ``stop(mode)``, ``restart(mode)``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        # Not pytest's tmp_path: its parents are private to root, and the postgres user
        # must reach the data directory and the socket (whose path must also stay short).
        self.root = Path(tempfile.mkdtemp(prefix="pgfault-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, user="postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        cmd = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {args[:1]} failed: {done.stderr.strip()[-500:]}")

    def _ctl(self, action: str, *args: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-w", "-t", "30", *args)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._ctl("start", "-o", options, "-l", str(self.log))

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends sessions cleanly; ``immediate`` is a crash (recovery at start)."""
        self._ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        # With its log file: otherwise the new server would keep pg_ctl's output pipe open.
        self._ctl("restart", "-m", mode, "-l", str(self.log))

    def outage(self, seconds: float, mode: str = "fast") -> None:
        self.stop(mode)
        time.sleep(seconds)
        self.start()

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        try:
            if self.is_running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL, stopped and deleted after the test whatever happens."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    pg = PrivatePostgres(bin_dir)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()
