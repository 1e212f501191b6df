"""The real ``checkout serve`` over HTTP: an admin enrolled with ``checkout staff create``
signs in with password and TOTP, enrols a colleague, and ``checkout audit verify`` proves
the log of it all."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.served import CHECKOUT, Served, serve_env
from tests.staff_codes import code, wrong_code

pytestmark = pytest.mark.e2e

EMAIL = "owner@shop.example"


def _cli(
    served: Served, db_url: str, data_dir: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECKOUT, *args],
        env=serve_env(db_url, data_dir, served.ports),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_staff_enrolled_by_the_cli_sign_in_over_http(
    served: Served, db_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    made = _cli(served, db_url, data_dir, "staff", "create", "--email", EMAIL, "--role", "admin")
    assert made.returncode == 0, made.stderr
    password, uri = made.stdout.strip().splitlines()
    assert uri.startswith("otpauth://totp/") and "issuer=" in uri
    assert len(password) >= 20
    refused = _cli(
        served, db_url, data_dir, "staff", "create", "--email", "x@y.z", "--role", "root"
    )
    assert refused.returncode == 2 and "unknown role" in refused.stderr

    with httpx.Client(timeout=10) as http:
        wrong = http.post(
            f"{served.api}/staff/v1/sessions",
            json={"email": EMAIL, "password": password, "totp": wrong_code(uri)},
        )
        assert wrong.status_code == 401
        s = http.post(
            f"{served.api}/staff/v1/sessions",
            json={"email": EMAIL, "password": password, "totp": code(uri)},
        )
        assert s.status_code == 201, s.text
        assert s.json()["role"] == "admin"
        auth = {"Authorization": f"Bearer {s.json()['token']}"}
        replay = http.post(
            f"{served.api}/staff/v1/sessions",
            json={"email": EMAIL, "password": password, "totp": code(uri)},
        )
        assert replay.status_code == 401
        colleague = http.post(
            f"{served.api}/staff/v1/staff",
            headers=auth,
            json={"email": "packer@shop.example", "role": "fulfillment"},
        )
        assert colleague.status_code == 201, colleague.text
        listed = http.get(f"{served.api}/staff/v1/staff", headers=auth)
        assert {m["role"] for m in listed.json()["data"]} == {"admin", "fulfillment"}
        events = http.get(f"{served.api}/staff/v1/audit-events", headers=auth).json()["data"]
        assert [e["action"] for e in events] == [
            "staff.created",
            "staff.signed_in",
            "staff.created",
        ]
        assert events[2]["actor"] == {"type": "cli", "id": None}
        # The staff paths are not on the private listener.
        assert http.get(f"{served.private}/staff/v1/staff", headers=auth).status_code == 404

    verified = _cli(served, db_url, data_dir, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact: 3 events" in verified.stdout

    served.proc.send_signal(signal.SIGINT)
    assert served.proc.wait(timeout=15) == 0
    logs = served.log.read_text()
    assert EMAIL not in logs and password not in logs and s.json()["token"] not in logs
    assert colleague.json()["initial_password"] not in logs
