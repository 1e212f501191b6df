"""``wrk``: make sure it is installed, run it for a fixed time, parse what it prints."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError

CHECKOUT_BODY = {
    "currency": "USD",
    "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 2}],
    "email": "buyer@example.com",
}

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m)"
TIMEOUT_S = 10


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict[str, int]

    @property
    def errors(self) -> int:
        """Error answers and broken connections; slow answers are ``timeouts``."""
        return self.non_2xx + sum(v for k, v in self.socket_errors.items() if k != "timeout")

    @property
    def timeouts(self) -> int:
        """Requests with no answer within wrk's timeout (absent from the latency figures)."""
        return self.socket_errors.get("timeout", 0)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: wrk is not installed; running `apt-get update` and `apt-get install -y wrk`")
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        print(f"bench: $ {' '.join(argv)}", flush=True)
        try:
            done = subprocess.run(argv, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BenchError(f"`{' '.join(argv)}` failed: {exc}") from exc
        if done.returncode != 0:
            raise BenchError(f"`{' '.join(argv)}` exited {done.returncode}; install wrk by hand")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed wrk but it is not on PATH")
    print(f"bench: installed {found}")
    return found


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"


def write_post_script(path: Path) -> Path:
    body = json.dumps(CHECKOUT_BODY, separators=(",", ":"))
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{body}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def write_get_script(path: Path, headers: dict[str, str]) -> Path:
    """GET with fixed headers (a customer's bearer token, say)."""
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(text: str) -> WrkResult:
    def need(rx: str) -> re.Match[str]:
        match = re.search(rx, text, re.MULTILINE)
        if match is None:
            raise BenchError(f"cannot parse wrk output (no /{rx}/):\n{text}")
        return match

    total = need(r"^\s*(\d+) requests in " + _DURATION)
    p50 = need(r"^\s*50(?:\.000)?%\s+" + _DURATION)
    p99 = need(r"^\s*99(?:\.000)?%\s+" + _DURATION)
    rps = need(r"^Requests/sec:\s+([\d.]+)")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, sock.groups()), strict=True))
        if sock
        else {}
    )
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_ms(total.group(2), total.group(3)) / 1000.0,
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1), p50.group(2)),
        p99_ms=_ms(p99.group(1), p99.group(2)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors={k: v for k, v in socket_errors.items() if v},
    )


def run_wrk(
    wrk: str, url: str, seconds: int, connections: int, script: Path | None = None
) -> WrkResult:
    argv = [
        wrk,
        "--threads", "1",
        "--connections", str(connections),
        "--duration", f"{seconds}s",
        "--timeout", f"{TIMEOUT_S}s",
        "--latency",
    ]  # fmt: skip
    if script is not None:
        argv += ["--script", str(script)]
    argv.append(url)
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk against {url} did not finish in {seconds + 30} s") from exc
    if done.returncode != 0:
        raise BenchError(f"wrk against {url} exited {done.returncode}:\n{done.stderr}")
    return parse_wrk(done.stdout)
