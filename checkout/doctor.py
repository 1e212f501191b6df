"""``checkout doctor``: reads a deployment's configuration as ``serve`` would and says what
is unsafe about it, what deserves a look, and what is merely worth knowing.

``load_settings`` already refuses what can never work (missing secrets, dev keys or
emulator URLs in production). The doctor looks for what works but should not be exposed:
dev mode, SQLite, the key store beside the data, plain HTTP with no trusted proxy, the
private listener on a public address, wide CORS or proxy trust, weak or inline secrets,
rate limits off. Exit status: 0 nothing unsafe, 1 something unsafe, 2 the configuration
does not load. It names variables, never their values.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from checkout.config import ConfigError, Settings, load_settings
from checkout.web.hardening import request_timeout
from providers.retry import DEFAULT_RETRY

Level = Literal["unsafe", "warning", "info"]
SECRET_VARIABLES = (
    "DATABASE_URL",  # only when it carries a password
    "CHECKOUT_SECRET_KEY",
    "CHECKOUT_KEK",
    "CHECKOUT_KEK_PREVIOUS",
    "CHECKOUT_KEYSTORE_URL",
    "CHECKOUT_STRIPE_SECRET_KEY",
    "CHECKOUT_STRIPE_WEBHOOK_SECRETS",
    "CHECKOUT_PAYPAL_CLIENT_SECRET",
)
CERT_WARNING_DAYS = 14


@dataclass(frozen=True)
class Finding:
    level: Level
    topic: str
    message: str

    def line(self) -> str:
        return f"{self.level.upper():8} {self.topic}: {self.message}"


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _mode_open(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


def _mode(s: Settings) -> Iterator[Finding]:
    if not s.is_production:
        yield Finding(
            "unsafe",
            "CHECKOUT_ENV",
            "dev mode: dev keys from the data dir, emulators instead of the providers, "
            "migrations at start; set CHECKOUT_ENV=production",
        )
    if s.run_stripe_emulator or s.run_paypal_emulator:
        yield Finding("unsafe", "emulators", "a provider emulator is enabled")
    if s.is_production and s.log_level == "DEBUG":
        yield Finding("warning", "CHECKOUT_LOG_LEVEL", "DEBUG in production is verbose")


def _databases(s: Settings) -> Iterator[Finding]:
    main = make_url(str(s.database_url))
    keys = make_url(str(s.keystore_url))
    if main.get_backend_name() == "sqlite":
        yield Finding(
            "unsafe",
            "DATABASE_URL",
            "SQLite: one process on one machine; production needs PostgreSQL",
        )
    elif main.host not in (None, "localhost", "127.0.0.1", "::1") and main.query.get(
        "sslmode"
    ) not in ("require", "verify-ca", "verify-full"):
        yield Finding(
            "warning",
            "DATABASE_URL",
            "no sslmode=verify-full (or require): traffic to the database may be in clear",
        )
    if keys.get_backend_name() == "sqlite":
        if main.get_backend_name() != "sqlite" or s.is_production:
            yield Finding(
                "warning",
                "CHECKOUT_KEYSTORE_URL",
                "the key store is a local SQLite file: every API and worker process must "
                "share it, so on more than one machine use its own PostgreSQL database",
            )
    elif (keys.host, keys.port, keys.database) == (main.host, main.port, main.database):
        yield Finding(
            "unsafe",
            "CHECKOUT_KEYSTORE_URL",
            "the key store is in the main database: a backup of it holds the keys too",
        )
    elif (keys.host, keys.port) == (main.host, main.port):
        yield Finding(
            "info",
            "CHECKOUT_KEYSTORE_URL",
            "the key store shares a server with the main database; keep their backups apart",
        )


def _cert(var: str, path: Path, now: dt.datetime) -> Iterator[Finding]:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        yield Finding("unsafe", var, "not a readable PEM certificate")
        return
    left = cert.not_valid_after_utc - now
    if left.total_seconds() <= 0:
        yield Finding("unsafe", var, "the certificate has expired")
    elif left.days < CERT_WARNING_DAYS:
        yield Finding("warning", var, f"the certificate expires in {left.days} days")


def _tls(s: Settings, now: dt.datetime) -> Iterator[Finding]:
    net = s.network
    if net.public_tls is None and not net.trusted_proxies and s.is_production:
        yield Finding(
            "unsafe",
            "public listener",
            "plain HTTP and no trusted proxy: set CHECKOUT_PUBLIC_TLS_CERT/_KEY, or put a "
            "TLS-terminating proxy in front and list it in CHECKOUT_TRUSTED_PROXIES",
        )
    for listener, files in (("PUBLIC", net.public_tls), ("PRIVATE", net.private_tls)):
        if files is None:
            continue
        yield from _cert(f"CHECKOUT_{listener}_TLS_CERT", files.cert, now)
        if _mode_open(files.key):
            yield Finding(
                "unsafe",
                f"CHECKOUT_{listener}_TLS_KEY",
                "the private key file is readable by group or others (chmod 600)",
            )
    for proxy in net.trusted_proxies:
        network = ipaddress.ip_network(proxy)
        if network.prefixlen < (8 if network.version == 4 else 32):
            yield Finding(
                "unsafe",
                "CHECKOUT_TRUSTED_PROXIES",
                f"{proxy} trusts X-Forwarded-For from almost anyone: clients could pick "
                "their own address (and dodge rate limits); list the proxies only",
            )
        elif network.is_global:
            yield Finding(
                "info",
                "CHECKOUT_TRUSTED_PROXIES",
                f"{proxy} is a public network; make sure only your proxies live there",
            )


def _private_listener(s: Settings) -> Iterator[Finding]:
    host = s.private_host
    ip = _ip(host)
    if ip is None:
        if host != "localhost":
            yield Finding(
                "info",
                "CHECKOUT_PRIVATE_HOST",
                "a host name: make sure it resolves to a private address only",
            )
        return
    if ip.is_unspecified:
        yield Finding(
            "warning",
            "CHECKOUT_PRIVATE_HOST",
            f"{host} binds every interface: the private port must be reachable from the "
            "private network only (firewall, unpublished container port)",
        )
    elif ip.is_global:
        yield Finding(
            "unsafe",
            "CHECKOUT_PRIVATE_HOST",
            f"{host} is a public address: the private listener must be on a private network",
        )
    if not ip.is_loopback and s.network.private_tls is None:
        yield Finding(
            "warning",
            "private listener",
            "API keys cross the network in clear: set CHECKOUT_PRIVATE_TLS_CERT/_KEY "
            "(or keep the network private end to end)",
        )


def _cors(s: Settings) -> Iterator[Finding]:
    for origin in s.cors_origins:
        parts = urlsplit(origin)
        if origin == "null" or not parts.scheme or not parts.hostname:
            yield Finding("unsafe", "CHECKOUT_CORS_ORIGINS", f"{origin!r} is not an origin")
        elif s.is_production and parts.scheme != "https":
            yield Finding(
                "unsafe",
                "CHECKOUT_CORS_ORIGINS",
                f"{origin} is not https: a network attacker could act as the storefront",
            )
        elif "*" in origin:
            yield Finding("unsafe", "CHECKOUT_CORS_ORIGINS", f"{origin} is a wildcard")


def _secrets(s: Settings, env: Mapping[str, str]) -> Iterator[Finding]:
    for name in SECRET_VARIABLES:
        path = env.get(name + "_FILE")
        if name == "DATABASE_URL" and env.get(name) and not make_url(env[name]).password:
            continue
        if env.get(name):
            if s.is_production:
                yield Finding(
                    "info",
                    name,
                    f"given in the environment; {name}_FILE keeps it out of process "
                    "listings, crash reports and child processes",
                )
        elif path and _mode_open(Path(path)):
            yield Finding(
                "warning", name + "_FILE", "the file is readable by group or others (chmod 600)"
            )
    if s.root_secret_is_dev and s.is_production:
        yield Finding("unsafe", "CHECKOUT_SECRET_KEY", "the dev secret from the data dir")
    root = s.root_secret_bytes() if str(s.root_secret) else b""
    if root and len(set(root)) < 16:
        yield Finding("unsafe", "CHECKOUT_SECRET_KEY", "too few distinct bytes to be random: weak")
    kek = s.kek_bytes() if str(s.kek) else b""
    if kek and len(set(kek)) < 16:
        yield Finding("unsafe", "CHECKOUT_KEK", "too few distinct bytes to be random: weak")
    if s.is_production and str(s.stripe_secret_key).startswith(("sk_test_", "rk_test_")):
        yield Finding(
            "unsafe",
            "CHECKOUT_STRIPE_SECRET_KEY",
            "a Stripe test-mode key: no real payment can succeed",
        )
    for secret in s.stripe_webhook_secrets:
        if not str(secret).startswith("whsec_") or len(str(secret)) < 20:
            yield Finding(
                "warning",
                "CHECKOUT_STRIPE_WEBHOOK_SECRETS",
                "an entry does not look like a Stripe signing secret (whsec_…)",
            )
            break
    if s.kek_previous:
        yield Finding(
            "info",
            "CHECKOUT_KEK_PREVIOUS",
            "set: once `checkout keys status` shows 0 data keys not wrapped under the "
            "current KEK, remove it (and destroy the old KEK)",
        )


def _limits(s: Settings) -> Iterator[Finding]:
    net = s.network
    if not net.rate_limits_on:
        level: Level = "unsafe" if s.is_production else "warning"
        yield Finding(
            level,
            "CHECKOUT_RATE_LIMITS",
            "off: sign-in, checkout creation, payments and webhooks are not rate limited",
        )
    worst = DEFAULT_RETRY.worst_case(s.provider_timeout)
    if request_timeout(s) <= worst:
        yield Finding(
            "warning",
            "CHECKOUT_REQUEST_TIMEOUT",
            f"{request_timeout(s):g} s is not above the provider calls' worst case "
            f"({worst:g} s): slow payments would be cut off before the provider answers",
        )


CHECKS: tuple[Callable[[Settings], Iterator[Finding]], ...] = (
    _mode,
    _databases,
    _private_listener,
    _cors,
    _limits,
)


def diagnose(
    settings: Settings, env: Mapping[str, str], now: dt.datetime | None = None
) -> list[Finding]:
    now = now or dt.datetime.now(dt.UTC)
    findings = [f for check in CHECKS for f in check(settings)]
    findings.extend(_tls(settings, now))
    findings.extend(_secrets(settings, env))
    order = {"unsafe": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: order[f.level])


def main(env: Mapping[str, str] | None = None, out: Callable[[str], None] = print) -> int:
    env = os.environ if env is None else env
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        for problem in exc.problems:
            out(Finding("unsafe", "configuration", problem).line())
        out("the configuration does not load; `checkout serve` would refuse to start")
        return 2
    except OSError as exc:  # a NAME_FILE that cannot be read
        out(Finding("unsafe", "configuration", f"cannot read {exc.filename}").line())
        return 2
    findings = diagnose(settings, env)
    for finding in findings:
        out(finding.line())
    unsafe = sum(f.level == "unsafe" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    out(f"{unsafe} unsafe, {warnings} warnings ({settings.env} configuration)")
    return 1 if unsafe else 0
