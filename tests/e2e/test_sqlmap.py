"""sqlmap (Debian's package) against the main public endpoints of a real ``checkout serve``
on loopback: every parameter it can reach (query, path id, JSON body fields, the checkout
secret and bearer headers) probed for SQL injection, in a bounded time. It must report
nothing injectable, and the server must answer no request of the run with a 5xx.

Skipped, saying so, only where sqlmap is not installed and cannot be (``.ci/run``
installs it with apt-get when it runs as root).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.served import CHECKOUT, Served, serve_env
from tests.staff_codes import code

pytestmark = pytest.mark.e2e

SQLMAP = shutil.which("sqlmap")
DEADLINE = 150.0  # seconds for every sqlmap run together
PER_TARGET = 40.0
PASSWORD = "correct horse battery staple 42"
# sqlmap's own words when it finds something; any of them fails the test.
FINDINGS = re.compile(
    r"is vulnerable|appears to be injectable|seems to be injectable|is injectable"
    r"|might be injectable|sqlmap identified the following injection point",
    re.IGNORECASE,
)


@dataclass
class Target:
    name: str
    url: str
    data: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Answers sqlmap must not take as "stop here": a wrong token's or password's 401, and
    # the 429 of the sign-in throttle once sqlmap's wrong passwords add up.
    ignore: str | None = None


def _setup(served: Served, db_url: str, data_dir: Path) -> dict[str, str]:
    """A checkout with its secret, a signed-in customer, an admin signed in with TOTP."""
    made = subprocess.run(
        [CHECKOUT, "staff", "create", "--email", "admin@shop.example", "--role", "admin"],
        env=serve_env(db_url, data_dir, served.ports),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    admin_password, uri = made.stdout.strip().splitlines()
    with httpx.Client(base_url=served.api, timeout=10) as http:
        line = {"sku": "MUG-WHITE", "quantity": 1}
        chk = http.post("/v1/checkouts", json={"currency": "USD", "lines": [line]})
        assert chk.status_code == 201, chk.text
        reg = http.post("/v1/customers", json={"email": "sq@example.com", "password": PASSWORD})
        assert reg.status_code == 201, reg.text
        sess = http.post("/v1/sessions", json={"email": "sq@example.com", "password": PASSWORD})
        assert sess.status_code == 201, sess.text
        staff = http.post(
            "/staff/v1/sessions",
            json={"email": "admin@shop.example", "password": admin_password, "totp": code(uri)},
        )
        assert staff.status_code == 201, staff.text
        products = http.get("/v1/products", params={"limit": 2}).json()["data"]
    return {
        "checkout": chk.json()["id"],
        "secret": chk.json()["client_secret"],
        "customer": sess.json()["token"],
        "staff": staff.json()["token"],
        "product": products[0]["id"],
    }


def _targets(api: str, t: dict[str, str]) -> list[Target]:
    json_headers = {"Content-Type": "application/json"}
    return [
        Target("products", f"{api}/v1/products?limit=2&starting_after={t['product']}"),
        # '*' marks the path id and the secret header as injection points.
        Target(
            "checkout",
            f"{api}/v1/checkouts/{t['checkout']}*",
            headers={"X-Checkout-Secret": f"{t['secret']}*"},
        ),
        Target(
            "create-checkout",
            f"{api}/v1/checkouts",
            data=json.dumps(
                {
                    "currency": "USD",
                    "lines": [{"sku": "MUG-WHITE", "quantity": 1}],
                    "email": "buyer@example.com",
                }
            ),
            headers=json_headers,
        ),
        Target(
            "sign-in",
            f"{api}/v1/sessions",
            data=json.dumps({"email": "sq@example.com", "password": "not the password 1"}),
            headers=json_headers,
            ignore="401,429",
        ),
        Target(
            "me",
            f"{api}/v1/me",
            headers={"Authorization": f"Bearer {t['customer']}*"},
            ignore="401",
        ),
        Target(
            "audit-events",
            f"{api}/staff/v1/audit-events?limit=5&starting_after=aud_1",
            headers={"Authorization": f"Bearer {t['staff']}"},
        ),
    ]


def _run(target: Target, out: Path, budget: float) -> str:
    args = [
        SQLMAP or "sqlmap",
        "-u",
        target.url,
        "--batch",
        "--level=2",
        "--risk=1",
        "--technique=BEUS",  # boolean, error, UNION, stacked; time-based would blow the budget
        "--time-sec=1",
        "--timeout=5",
        "--retries=0",
        "--threads=2",
        "--flush-session",
        "--disable-coloring",
        "--answers=follow=N,keep testing=Y",
        f"--output-dir={out}",
        "--skip=Host,User-Agent,Referer",
    ]
    if target.data is not None:
        args.append(f"--data={target.data}")
    if target.ignore is not None:
        args.append(f"--ignore-code={target.ignore}")
    if target.headers:
        args.append("--headers=" + "\n".join(f"{k}: {v}" for k, v in target.headers.items()))
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=budget, check=False, cwd=out
        )
        return done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return partial + f"\n[test] stopped after {budget:.0f} s"


def _server_errors(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if re.search(r'"status":\s*5\d\d|\b5\d\d \(', ln)]


@pytest.mark.skipif(SQLMAP is None, reason="sqlmap is not installed (apt-get install sqlmap)")
def test_sqlmap_finds_nothing_injectable_and_no_5xx(
    served: Served, db_url: str, tmp_path: Path
) -> None:
    if db_url.startswith("postgresql") and os.environ.get("CHECKOUT_SQLMAP_POSTGRES") != "1":
        pytest.skip("sqlmap runs on SQLite; CHECKOUT_SQLMAP_POSTGRES=1 adds PostgreSQL")
    tokens = _setup(served, db_url, tmp_path / "data")
    start = time.monotonic()
    reports: dict[str, str] = {}
    for target in _targets(served.api, tokens):
        left = DEADLINE - (time.monotonic() - start)
        assert left > 5, f"sqlmap ran out of time before {target.name}"
        out = tmp_path / f"sqlmap-{target.name}"
        out.mkdir()
        reports[target.name] = _run(target, out, min(PER_TARGET, left))
    for name, text in reports.items():
        found = [ln for ln in text.splitlines() if FINDINGS.search(ln)]
        assert not found, (name, found)
        # sqlmap reached the target and sent its payloads.
        assert "testing for SQL injection on" in text, (name, text[-2000:])
        assert "HTTP error codes detected" not in text or not _server_errors(text), (
            name,
            _server_errors(text),
        )
    log = served.log.read_text()
    assert log.count('"status":') > 1000  # the access log saw sqlmap's requests
    assert not _server_errors(log), _server_errors(log)[:5]
