"""The private listener over real sockets: it will not bind beyond loopback unless told
to, and headers claiming a local origin change nothing on either listener."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx

from tests.e2e.served import CHECKOUT, Served, free_port, serve_env

SPOOFED = {"Host": "127.0.0.1:8001", "X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"}


def _ports() -> dict[str, int]:
    return {name: free_port() for name in ("public", "private", "stripe", "paypal")}


def test_an_empty_private_host_is_refused_before_anything_binds(
    db_url: str, tmp_path: Path
) -> None:
    ports = _ports()
    env = serve_env(db_url, tmp_path / "d", ports)
    env["CHECKOUT_PRIVATE_HOST"] = ""  # would bind every interface
    r = subprocess.run(
        [CHECKOUT, "serve"], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert "private listener" in r.stderr and "CHECKOUT_PRIVATE_HOST" in r.stderr
    assert "ready on" not in r.stdout
    with socket.socket() as s:  # the public port was never taken either
        s.bind(("127.0.0.1", ports["public"]))


def test_spoofed_local_headers_gain_nothing_on_either_listener(served: Served) -> None:
    public = f"http://127.0.0.1:{served.ports['public']}"
    private = f"http://127.0.0.1:{served.ports['private']}"
    with httpx.Client(timeout=10) as http:
        for path in ("/s2s/v1/orders", "/s2s/v1/customers/cus_1", "/healthz", "/metrics"):
            r = http.get(public + path, headers=SPOOFED)
            assert r.status_code == 404, path
        r = http.get(private + "/s2s/v1/orders", headers=SPOOFED)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
        r = http.get(private + "/v1/products", headers=SPOOFED)
        assert r.status_code == 404
