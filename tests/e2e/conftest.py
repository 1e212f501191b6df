"""The ``served`` fixture: a real ``checkout serve`` with its emulators, seeded."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.served import CHECKOUT, Served, free_port, serve_env, stop_process, wait_ready


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    ports = {
        "public": free_port(),
        "private": free_port(),
        "stripe": free_port(),
        "paypal": free_port(),
        "storefront": free_port(),
    }
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [CHECKOUT, "serve"],
            env=serve_env(db_url, tmp_path / "data", ports),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            lines = wait_ready(proc, 5)
            assert f"public listener ready on http://127.0.0.1:{ports['public']}" in lines
            assert f"private listener ready on http://127.0.0.1:{ports['private']}" in lines
            assert f"storefront ready on http://127.0.0.1:{ports['storefront']}" in lines
            subprocess.run(
                [CHECKOUT, "seed"],
                env=serve_env(db_url, tmp_path / "data", ports),
                check=True,
                capture_output=True,
                timeout=60,
            )
            yield Served(proc, ports, log)
        finally:
            stop_process(proc)
