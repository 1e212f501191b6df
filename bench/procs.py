"""Server subprocesses: start with output to a log file, wait for ready lines, always stop.

Output goes to a file, not a pipe, so a chatty server can never block on a full pipe.
Children run in their own session: Ctrl-C reaches the bench, whose ``finally`` stops them
in order (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from bench.errors import BenchError

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def run_step(name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
    """Run a one-shot command (migrate, seed) to completion or raise with its log."""
    with log.open("ab") as out:
        try:
            done = subprocess.run(
                list(argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"{name} took longer than 120 s") from exc
    if done.returncode != 0:
        raise BenchError(f"{name} exited {done.returncode}:\n{log_tail(log)}")


class Server:
    """One long-running child process whose output is appended to ``log``."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, patterns: Mapping[str, str], timeout: float = 60.0) -> dict[str, str]:
        """Wait until each regex (one capture group) matches a log line; return the captures."""
        compiled = {key: re.compile(rx) for key, rx in patterns.items()}
        found: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace") if self.log.exists() else ""
            for key, rx in compiled.items():
                if key not in found and (match := rx.search(text)):
                    found[key] = match.group(1)
            if len(found) == len(compiled):
                return found
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited {self.proc.returncode} during start-up:\n"
                    f"{log_tail(self.log)}"
                )
            time.sleep(0.05)
        missing = ", ".join(sorted(set(compiled) - set(found)))
        raise BenchError(
            f"{self.name} not ready after {timeout:.0f} s (no {missing}):\n{log_tail(self.log)}"
        )

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (all threads), from /proc."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            print(f"bench: {self.name} ignored SIGTERM for {grace:.0f} s; killing it")
            self.proc.kill()
            self.proc.wait(grace)


class Servers:
    """Every server the bench started; leaving the ``with`` block stops them all."""

    def __init__(self) -> None:
        self._all: list[Server] = []

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> Server:
        server = Server(name, argv, env, log)
        self._all.append(server)
        return server

    def stop_all(self) -> None:
        while self._all:
            server = self._all.pop()
            try:
                server.stop()
            except BaseException as exc:  # keep stopping the rest, even on a second Ctrl-C
                print(f"bench: could not stop {server.name} (pid {server.pid}): {exc!r}")
                if server.alive():
                    server.proc.kill()

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()
