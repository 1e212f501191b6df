"""How the listeners face the network: TLS per listener, trusted proxies, rate limits,
request timeouts. Read from the environment by ``load_network`` (called from
``checkout.config.load_settings``, which collects every problem before refusing).

| variable | default |
| --- | --- |
| ``CHECKOUT_PUBLIC_TLS_CERT`` / ``CHECKOUT_PUBLIC_TLS_KEY`` | unset: plain HTTP |
| ``CHECKOUT_PRIVATE_TLS_CERT`` / ``CHECKOUT_PRIVATE_TLS_KEY`` | unset: plain HTTP |
| ``CHECKOUT_TRUSTED_PROXIES`` | unset: ``X-Forwarded-*`` is never believed |
| ``CHECKOUT_RATE_LIMITS`` | ``on`` with the defaults below; ``off``; or overrides |
| ``CHECKOUT_REQUEST_TIMEOUT`` | the provider calls' worst case plus a margin |
| ``CHECKOUT_HEADER_TIMEOUT`` | 10 s to receive a request's headers |
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Requests per window per client address (IPv6: per /64), as a token bucket that holds
# ``count`` and refills ``count`` per ``seconds``. Generous: a shop's customers can share
# an address (offices, mobile carriers' NAT); the database throttle per account stays.
DEFAULT_RATE_LIMITS: Mapping[str, tuple[int, float]] = {
    "sign_in": (30, 60.0),
    "checkout_create": (300, 60.0),
    "payment": (120, 60.0),
    "webhook": (3000, 60.0),
}
HEADER_TIMEOUT = 10.0


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class RateLimit:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


@dataclass(frozen=True)
class NetworkSettings:
    public_tls: TlsFiles | None = None
    private_tls: TlsFiles | None = None
    # IPs and CIDRs whose X-Forwarded-For / X-Forwarded-Proto are believed; empty: none.
    trusted_proxies: tuple[str, ...] = ()
    # Group name -> limit; empty when rate limiting is off.
    rate_limits: Mapping[str, RateLimit] = field(
        default_factory=lambda: {k: RateLimit(*v) for k, v in DEFAULT_RATE_LIMITS.items()}
    )
    # None: derived from the provider timeout (see checkout.web.hardening).
    request_timeout: float | None = None
    header_timeout: float = HEADER_TIMEOUT

    @property
    def rate_limits_on(self) -> bool:
        return bool(self.rate_limits)


def _tls(env: Mapping[str, str], listener: str, problems: list[str]) -> TlsFiles | None:
    cert_var, key_var = f"CHECKOUT_{listener}_TLS_CERT", f"CHECKOUT_{listener}_TLS_KEY"
    cert, key = env.get(cert_var, ""), env.get(key_var, "")
    if not cert and not key:
        return None
    if not cert or not key:
        problems.append(f"{cert_var} and {key_var} must be set together")
        return None
    for var, path in ((cert_var, cert), (key_var, key)):
        if not Path(path).is_file():
            problems.append(f"{var} is not a readable file")
    return TlsFiles(Path(cert), Path(key))


def _proxies(env: Mapping[str, str], problems: list[str]) -> tuple[str, ...]:
    raw = env.get("CHECKOUT_TRUSTED_PROXIES", "")
    out: list[str] = []
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            problems.append(
                "CHECKOUT_TRUSTED_PROXIES must be IP addresses or CIDR networks, "
                f"comma-separated; {item!r} is neither"
            )
    return tuple(out)


def parse_rate_limits(raw: str, problems: list[str]) -> dict[str, RateLimit]:
    """``on`` (defaults), ``off``, or ``group=COUNT/SECONDS,...`` over the defaults."""
    limits = {k: RateLimit(*v) for k, v in DEFAULT_RATE_LIMITS.items()}
    raw = raw.strip().lower()
    if raw in ("", "on"):
        return limits
    if raw == "off":
        return {}
    for item in (i.strip() for i in raw.split(",")):
        if not item:
            continue
        group, _, spec = item.partition("=")
        count, _, seconds = spec.partition("/")
        if group.strip() not in limits:
            problems.append(
                f"CHECKOUT_RATE_LIMITS: unknown group {group.strip()!r} "
                f"(groups: {', '.join(sorted(limits))})"
            )
            continue
        try:
            limit = RateLimit(int(count), float(seconds or "60"))
        except ValueError:
            problems.append(f"CHECKOUT_RATE_LIMITS: {item!r} is not group=COUNT/SECONDS")
            continue
        if limit.count < 1 or limit.seconds <= 0:
            problems.append(f"CHECKOUT_RATE_LIMITS: {item!r} must allow at least 1 request")
            continue
        limits[group.strip()] = limit
    return limits


def _seconds(env: Mapping[str, str], name: str, problems: list[str]) -> float | None:
    raw = env.get(name, "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name} must be a number of seconds, got {raw!r}")
        return None
    if value <= 0:
        problems.append(f"{name} must be more than 0 seconds")
        return None
    return value


def load_network(env: Mapping[str, str], problems: list[str]) -> NetworkSettings:
    return NetworkSettings(
        public_tls=_tls(env, "PUBLIC", problems),
        private_tls=_tls(env, "PRIVATE", problems),
        trusted_proxies=_proxies(env, problems),
        rate_limits=parse_rate_limits(env.get("CHECKOUT_RATE_LIMITS", ""), problems),
        request_timeout=_seconds(env, "CHECKOUT_REQUEST_TIMEOUT", problems),
        header_timeout=_seconds(env, "CHECKOUT_HEADER_TIMEOUT", problems) or HEADER_TIMEOUT,
    )
