"""A real ``checkout serve`` process on free ports, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHECKOUT = str(Path(sys.executable).with_name("checkout"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(*names: str) -> dict[str, int]:
    """A free port for each name, all different: every socket stays bound until all are
    chosen (one ``free_port`` after another may hand back a port it just gave out, and two
    listeners of one server then fight over it)."""
    held: list[socket.socket] = []
    try:
        for _ in names:
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
        return {name: int(s.getsockname()[1]) for name, s in zip(names, held, strict=True)}
    finally:
        for s in held:
            s.close()


class Served:
    def __init__(self, proc: subprocess.Popen[str], ports: dict[str, int], log: Path) -> None:
        self.proc = proc
        self.ports = ports
        self.log = log
        self.api = f"http://127.0.0.1:{ports['public']}"
        self.private = f"http://127.0.0.1:{ports['private']}"
        self.stripe = f"http://127.0.0.1:{ports['stripe']}"
        self.paypal = f"http://127.0.0.1:{ports['paypal']}"
        self.storefront = f"http://127.0.0.1:{ports['storefront']}" if "storefront" in ports else ""


def serve_env(db_url: str, data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
    env.update(
        CHECKOUT_DATA_DIR=str(data_dir),
        DATABASE_URL=db_url,
        CHECKOUT_PUBLIC_PORT=str(ports["public"]),
        CHECKOUT_PRIVATE_PORT=str(ports["private"]),
        CHECKOUT_STRIPE_EMULATOR_PORT=str(ports["stripe"]),
        CHECKOUT_PAYPAL_EMULATOR_PORT=str(ports["paypal"]),
        # The demo storefront starts in dev too; never on the default port another run may hold.
        CHECKOUT_STOREFRONT_PORT=str(ports["storefront"] if "storefront" in ports else free_port()),
    )
    return env


def stop_process(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C, then kill if it does not stop in time; close its pipe."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def wait_ready(proc: subprocess.Popen[str], expected: int, timeout: float = 30) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while sum("ready on" in ln for ln in lines) < expected:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError(f"serve did not become ready: {lines}")
        line = proc.stdout.readline()
        if line:
            lines.append(line.strip())
    return lines


@contextmanager
def serving(db_url: str, tmp_path: Path, *, migrate: bool = False) -> Iterator[Served]:
    """``checkout serve`` with its emulators on free ports, seeded; stopped on exit."""
    ports = free_ports("public", "private", "stripe", "paypal", "storefront")
    env = serve_env(db_url, tmp_path / "data", ports)
    if migrate:
        subprocess.run([CHECKOUT, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [CHECKOUT, "serve"], env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        try:
            lines = wait_ready(proc, 5)
            assert f"public listener ready on http://127.0.0.1:{ports['public']}" in lines
            assert f"private listener ready on http://127.0.0.1:{ports['private']}" in lines
            assert f"storefront ready on http://127.0.0.1:{ports['storefront']}" in lines
            subprocess.run([CHECKOUT, "seed"], env=env, check=True, capture_output=True, timeout=60)
            yield Served(proc, ports, log)
        finally:
            stop_process(proc)
