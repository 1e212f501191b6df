"""Configuration from the environment, validated once at start.

Every name is fixed by API.md's operations table. ``load_settings`` never raises for one
problem at a time: it collects them all, so an operator fixes a deployment in one pass.
Secrets are held in ``Secret`` so printing the settings shows stars.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Secret

from checkout.access.refund_limits import (
    DEFAULT_SUPPORT_REFUND_LIMIT,
    InvalidRefundLimits,
    RefundLimits,
    parse_refund_limits,
)
from checkout.netconfig import NetworkSettings, load_network

# Dev-only credentials shared by the emulator and the adapter. Production refuses them.
DEV_STRIPE_SECRET_KEY = "sk_test_emulator_dev"  # noqa: S105  (dev-only, refused in production)
DEV_STRIPE_PUBLISHABLE_KEY = "pk_test_emulator_dev"
DEV_PAYPAL_CLIENT_ID = "emulator-dev-client"
DEV_PAYPAL_CLIENT_SECRET = "emulator-dev-secret"  # noqa: S105  (dev-only, refused in production)
DEV_SECRET_FILE = "dev-secret.key"  # noqa: S105  (dev-only, refused in production)
DEV_KEK_FILE = "dev-kek.key"
DEV_WEBHOOK_SECRET_FILE = "dev-stripe-webhook-secret"  # noqa: S105  (dev-only, refused in production)
# The dev PayPal webhook: its id, and the directory holding the emulator's test CA and
# signing key (written by `checkout serve`, see checkout/paypal_dev.py).
DEV_PAYPAL_WEBHOOK_ID = "EMULATORDEVWEBHOOK0000000"
DEV_PAYPAL_PKI_DIR = "dev-paypal-webhook-pki"
DEV_PAYPAL_CA_FILE = "ca.pem"


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path
    database_url: Secret
    public_host: str
    public_port: int
    private_host: str
    private_port: int
    storefront_port: int
    stripe_emulator_port: int
    paypal_emulator_port: int
    stripe_api_base: str
    stripe_secret_key: Secret
    stripe_publishable_key: str
    stripe_webhook_secrets: tuple[Secret, ...]
    run_stripe_emulator: bool
    capture_mode: str
    provider_timeout: float
    root_secret: Secret
    root_secret_is_dev: bool
    # Wraps every data key of the PII vault; the wrapped keys live in the key store, a
    # database apart from the main one (its own SQLite file in dev).
    kek: Secret
    keystore_url: Secret
    cors_origins: tuple[str, ...]
    catalog_cache_seconds: float
    log_level: str
    # Days after an order is fulfilled or canceled before its personal fields are erased.
    retention_days: int = 365
    # PayPal is optional in production: without a client id it is not offered.
    paypal_api_base: str | None = None
    paypal_client_id: str = ""
    paypal_client_secret: Secret = field(default_factory=lambda: Secret(""))
    paypal_webhook_id: str = ""
    paypal_ca_bundle: Path | None = None
    run_paypal_emulator: bool = False
    # Dev with the PayPal emulator only: where its webhook signing PKI lives. Never set in
    # production, so the pinned dev certificate can never be trusted there.
    paypal_dev_pki: Path | None = None
    # Old KEKs during a KEK rotation: they only unwrap, until ``checkout keys rotate`` has
    # re-wrapped every data key under ``kek`` (``checkout keys status`` says when).
    kek_previous: tuple[Secret, ...] = ()
    # Whether CHECKOUT_PRIVATE_HOST was given (non-empty): only then may the private
    # listener bind anything but loopback (checkout.serve.check_private_bind).
    private_host_explicit: bool = False
    # Tests only (CHECKOUT_TEST_RECORD_REQUESTS, refused in production): every request that
    # reaches a listener is written here raw, to prove what did and did not arrive.
    request_record_file: Path | None = None
    # TLS per listener, trusted proxies, rate limits, timeouts (checkout/netconfig.py).
    network: NetworkSettings = field(default_factory=NetworkSettings)
    # The most the support role may refund at once, per currency (minor units);
    # CHECKOUT_SUPPORT_REFUND_LIMIT, see checkout/access/refund_limits.py.
    support_refund_limits: RefundLimits = field(
        default_factory=lambda: parse_refund_limits(DEFAULT_SUPPORT_REFUND_LIMIT)
    )

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def kek_bytes(self) -> bytes:
        return base64.urlsafe_b64decode(str(self.kek))

    def previous_kek_bytes(self) -> tuple[bytes, ...]:
        return tuple(base64.urlsafe_b64decode(str(k)) for k in self.kek_previous)

    def root_secret_bytes(self) -> bytes:
        return base64.urlsafe_b64decode(str(self.root_secret))


def _int(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be an integer port, got {raw!r}")
        return default
    if not 0 <= value <= 65535:
        problems.append(f"{name} must be a port between 0 and 65535")
    return value


def _float(env: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name} must be a number of seconds, got {raw!r}")
        return default
    if value < 0:
        problems.append(f"{name} must not be negative")
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dev_file(data_dir: Path, name: str, make: bool) -> str | None:
    """Read a dev secret from the data dir, creating it (mode 600) on first use."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    if not make:
        return None
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = (
        base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        if name in (DEV_SECRET_FILE, DEV_KEK_FILE)
        else "whsec_" + secrets.token_hex(24)
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def _is_dev_ca(bundle: Path, dev_pki: Path) -> bool:
    """Whether a configured CA bundle is (a copy of) the emulator's test CA."""
    dev_ca = dev_pki / DEV_PAYPAL_CA_FILE
    try:
        if bundle.resolve().is_relative_to(dev_pki.resolve()):
            return True
        return dev_ca.is_file() and dev_ca.read_bytes().strip() in bundle.read_bytes()
    except OSError:
        return False


def _is_origin(value: str) -> bool:
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.path == ""
        and not parts.query
        and not parts.fragment
        and parts.username is None
    )


def _secret_from(env: Mapping[str, str], name: str) -> str | None:
    """``NAME`` or ``NAME_FILE`` (a path, as container secrets are mounted)."""
    value = env.get(name)
    if value:
        return value.strip()
    path = env.get(name + "_FILE")
    if path:
        return Path(path).read_text().strip()
    return None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    problems: list[str] = []
    mode = env.get("CHECKOUT_ENV", "dev")
    if mode not in ("dev", "production"):
        problems.append(f"CHECKOUT_ENV must be 'dev' or 'production', got {mode!r}")
    prod = mode == "production"
    data_dir = Path(env.get("CHECKOUT_DATA_DIR", ".checkout"))

    # DATABASE_URL_FILE too: a PostgreSQL URL usually carries a password.
    database_url = _secret_from(env, "DATABASE_URL") or f"sqlite:///{data_dir / 'checkout.db'}"
    scheme = database_url.split(":", 1)[0]
    if scheme not in ("sqlite", "postgresql+psycopg", "postgresql"):
        problems.append("DATABASE_URL must be sqlite:///… or postgresql+psycopg://…")
    if scheme == "postgresql":
        database_url = "postgresql+psycopg" + database_url[len("postgresql") :]
    if prod and scheme == "sqlite" and not ({"DATABASE_URL", "DATABASE_URL_FILE"} & set(env)):
        problems.append("DATABASE_URL is not set (production does not default to SQLite)")

    public_host = env.get("CHECKOUT_PUBLIC_HOST", "127.0.0.1")
    public_port = _int(env, "CHECKOUT_PUBLIC_PORT", 8000, problems)
    private_host = env.get("CHECKOUT_PRIVATE_HOST", "127.0.0.1")
    private_port = _int(env, "CHECKOUT_PRIVATE_PORT", 8001, problems)
    if (private_host, private_port) == (public_host, public_port) and public_port != 0:
        problems.append("the private listener cannot share the public listener's address")
    stripe_emulator_port = _int(env, "CHECKOUT_STRIPE_EMULATOR_PORT", 8010, problems)

    root = _secret_from(env, "CHECKOUT_SECRET_KEY")
    root_is_dev = False
    if root is None and not prod:
        root = _dev_file(data_dir, DEV_SECRET_FILE, make=True)
        root_is_dev = True
    if root is None:
        problems.append("CHECKOUT_SECRET_KEY (or CHECKOUT_SECRET_KEY_FILE) is not set")
        root = ""
    else:
        try:
            if len(base64.urlsafe_b64decode(root)) < 32:
                problems.append("CHECKOUT_SECRET_KEY must be at least 32 bytes, base64url")
        except ValueError:
            problems.append("CHECKOUT_SECRET_KEY must be base64url")
    if prod and root:
        dev = _dev_file(data_dir, DEV_SECRET_FILE, make=False)
        if dev is not None and dev == root:
            problems.append("CHECKOUT_SECRET_KEY is the dev key from the data dir")

    kek = _secret_from(env, "CHECKOUT_KEK")
    if kek is None and not prod:
        kek = _dev_file(data_dir, DEV_KEK_FILE, make=True)
    if kek is None:
        problems.append("CHECKOUT_KEK (or CHECKOUT_KEK_FILE) is not set")
        kek = ""
    else:
        try:
            if len(base64.urlsafe_b64decode(kek)) != 32:
                problems.append("CHECKOUT_KEK must be 32 bytes, base64url")
        except ValueError:
            problems.append("CHECKOUT_KEK must be base64url")
        if prod and kek == _dev_file(data_dir, DEV_KEK_FILE, make=False):
            problems.append("CHECKOUT_KEK is the dev key from the data dir")
        if kek == root:
            problems.append("CHECKOUT_KEK must differ from CHECKOUT_SECRET_KEY")
    previous_raw = _secret_from(env, "CHECKOUT_KEK_PREVIOUS") or ""
    kek_previous = tuple(p for p in previous_raw.replace("\n", ",").split(",") if p.strip())
    for old in kek_previous:
        try:
            if len(base64.urlsafe_b64decode(old.strip())) != 32:
                problems.append("each CHECKOUT_KEK_PREVIOUS entry must be 32 bytes, base64url")
        except ValueError:
            problems.append("CHECKOUT_KEK_PREVIOUS must be base64url values, comma-separated")
    keystore_url = _secret_from(env, "CHECKOUT_KEYSTORE_URL") or ""
    if not keystore_url:
        if prod:
            problems.append(
                "CHECKOUT_KEYSTORE_URL is not set (the key store must be apart from the "
                "main database, so its backups never hold the keys)"
            )
        keystore_url = f"sqlite:///{data_dir / 'keys.db'}"
    elif keystore_url == database_url:
        problems.append("CHECKOUT_KEYSTORE_URL must not be the main database")

    stripe_base = env.get("CHECKOUT_STRIPE_API_BASE", "")
    run_emulator = not prod and not stripe_base
    if run_emulator:
        stripe_base = f"http://127.0.0.1:{stripe_emulator_port}"
    stripe_key = _secret_from(env, "CHECKOUT_STRIPE_SECRET_KEY") or (
        "" if prod else DEV_STRIPE_SECRET_KEY
    )
    publishable = env.get("CHECKOUT_STRIPE_PUBLISHABLE_KEY") or (
        "" if prod else DEV_STRIPE_PUBLISHABLE_KEY
    )
    hooks_raw = _secret_from(env, "CHECKOUT_STRIPE_WEBHOOK_SECRETS") or (
        "" if prod else (_dev_file(data_dir, DEV_WEBHOOK_SECRET_FILE, make=True) or "")
    )
    hook_secrets = tuple(Secret(s.strip()) for s in hooks_raw.split(",") if s.strip())
    if prod:
        if not stripe_base:
            problems.append("CHECKOUT_STRIPE_API_BASE is not set")
        else:
            parts = urlsplit(stripe_base)
            if parts.scheme != "https" or is_loopback(parts.hostname or ""):
                problems.append(
                    "CHECKOUT_STRIPE_API_BASE points at an emulator or plain http; "
                    "production needs https://api.stripe.com"
                )
        if not stripe_key:
            problems.append("CHECKOUT_STRIPE_SECRET_KEY is not set")
        elif stripe_key.startswith("sk_test_emulator"):
            problems.append("CHECKOUT_STRIPE_SECRET_KEY is the dev emulator key")
        if not hook_secrets:
            problems.append("CHECKOUT_STRIPE_WEBHOOK_SECRETS is not set")

    paypal_port = _int(env, "CHECKOUT_PAYPAL_EMULATOR_PORT", 8011, problems)
    paypal_base = env.get("CHECKOUT_PAYPAL_API_BASE", "")
    paypal_id = env.get("CHECKOUT_PAYPAL_CLIENT_ID", "")
    paypal_secret = _secret_from(env, "CHECKOUT_PAYPAL_CLIENT_SECRET") or ""
    run_paypal_emulator = not prod and not paypal_base
    if run_paypal_emulator:
        paypal_base = f"http://127.0.0.1:{paypal_port}"
        paypal_id = paypal_id or DEV_PAYPAL_CLIENT_ID
        paypal_secret = paypal_secret or DEV_PAYPAL_CLIENT_SECRET
    if prod and (paypal_id or paypal_base):
        parts = urlsplit(paypal_base)
        if parts.scheme != "https" or is_loopback(parts.hostname or ""):
            problems.append(
                "CHECKOUT_PAYPAL_API_BASE points at an emulator or plain http; production "
                "needs https://api-m.paypal.com"
            )
        if not paypal_id or paypal_id == DEV_PAYPAL_CLIENT_ID:
            problems.append("CHECKOUT_PAYPAL_CLIENT_ID is missing or the dev emulator's")
        if not paypal_secret or paypal_secret == DEV_PAYPAL_CLIENT_SECRET:
            problems.append("CHECKOUT_PAYPAL_CLIENT_SECRET is missing or the dev emulator's")

    paypal_webhook_id = env.get("CHECKOUT_PAYPAL_WEBHOOK_ID", "")
    bundle = env.get("CHECKOUT_PAYPAL_CA_BUNDLE")
    if bundle and not Path(bundle).is_file():
        problems.append("CHECKOUT_PAYPAL_CA_BUNDLE is not a readable file")
    dev_pki = data_dir / DEV_PAYPAL_PKI_DIR
    if run_paypal_emulator:
        # The emulator signs with its own test CA; a bundle of real roots could never
        # verify it, so asking for both is a mistake worth naming.
        if bundle:
            problems.append(
                "CHECKOUT_PAYPAL_CA_BUNDLE is set but PayPal is the dev emulator, which signs "
                "webhooks with its own test CA; set CHECKOUT_PAYPAL_API_BASE as well"
            )
        paypal_webhook_id = paypal_webhook_id or DEV_PAYPAL_WEBHOOK_ID
    if prod:
        if paypal_webhook_id == DEV_PAYPAL_WEBHOOK_ID:
            problems.append("CHECKOUT_PAYPAL_WEBHOOK_ID is the dev emulator's")
        if bundle and _is_dev_ca(Path(bundle), dev_pki):
            problems.append(
                "CHECKOUT_PAYPAL_CA_BUNDLE is the PayPal emulator's test CA from the data dir"
            )

    capture = env.get("CHECKOUT_CAPTURE_MODE", "automatic")
    if capture not in ("automatic", "manual"):
        problems.append("CHECKOUT_CAPTURE_MODE must be 'automatic' or 'manual'")

    storefront_port = _int(env, "CHECKOUT_STOREFRONT_PORT", 8002, problems)
    cors_raw = env.get("CHECKOUT_CORS_ORIGINS")
    cors = (
        tuple(o.strip() for o in cors_raw.split(",") if o.strip())
        if cors_raw is not None
        else (() if prod else (f"http://127.0.0.1:{storefront_port}",))
    )
    if any(o == "*" for o in cors):
        problems.append("CHECKOUT_CORS_ORIGINS must list origins; '*' is not allowed")
    elif any(not _is_origin(o) for o in cors):
        problems.append(
            "CHECKOUT_CORS_ORIGINS must list origins such as https://shop.example "
            "(scheme, host and port only, no path)"
        )

    record_raw = env.get("CHECKOUT_TEST_RECORD_REQUESTS")
    if record_raw and prod:
        problems.append("CHECKOUT_TEST_RECORD_REQUESTS is for tests and refused in production")

    retention_days = _int(env, "CHECKOUT_RETENTION_DAYS", 365, problems)
    if retention_days < 1:
        problems.append("CHECKOUT_RETENTION_DAYS must be at least 1")

    network = load_network(env, problems)
    try:
        refund_limits = parse_refund_limits(
            env.get("CHECKOUT_SUPPORT_REFUND_LIMIT", DEFAULT_SUPPORT_REFUND_LIMIT)
        )
    except InvalidRefundLimits as exc:
        problems.append(f"CHECKOUT_SUPPORT_REFUND_LIMIT: {exc}")
        refund_limits = RefundLimits()

    if problems:
        raise ConfigError(problems)
    return Settings(
        env=mode,
        data_dir=data_dir,
        database_url=Secret(database_url),
        public_host=public_host,
        public_port=public_port,
        private_host=private_host,
        private_host_explicit=bool(env.get("CHECKOUT_PRIVATE_HOST", "").strip()),
        private_port=private_port,
        storefront_port=storefront_port,
        stripe_emulator_port=stripe_emulator_port,
        paypal_emulator_port=paypal_port,
        paypal_api_base=paypal_base.rstrip("/") or None,
        paypal_client_id=paypal_id,
        paypal_client_secret=Secret(paypal_secret),
        paypal_webhook_id=paypal_webhook_id,
        paypal_ca_bundle=Path(bundle) if bundle else None,
        run_paypal_emulator=run_paypal_emulator,
        paypal_dev_pki=dev_pki if run_paypal_emulator else None,
        stripe_api_base=stripe_base.rstrip("/"),
        stripe_secret_key=Secret(stripe_key),
        stripe_publishable_key=publishable,
        stripe_webhook_secrets=hook_secrets,
        run_stripe_emulator=run_emulator,
        capture_mode=capture,
        provider_timeout=_float(env, "CHECKOUT_PROVIDER_TIMEOUT", 10.0, problems),
        root_secret=Secret(root),
        root_secret_is_dev=root_is_dev,
        kek=Secret(kek),
        keystore_url=Secret(keystore_url),
        cors_origins=cors,
        catalog_cache_seconds=_float(env, "CHECKOUT_CATALOG_CACHE_SECONDS", 1.0, problems),
        log_level=env.get("CHECKOUT_LOG_LEVEL", "INFO").upper(),
        retention_days=retention_days,
        kek_previous=tuple(Secret(k.strip()) for k in kek_previous),
        request_record_file=Path(record_raw) if record_raw else None,
        network=network,
        support_refund_limits=refund_limits,
    )
