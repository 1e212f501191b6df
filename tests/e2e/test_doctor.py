"""``checkout doctor`` run as a command against good and bad deployments."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.e2e.served import CHECKOUT
from tests.e2e.tls_certs import self_signed


def _secret_file(directory: Path, name: str, value: str, mode: int = 0o600) -> str:
    path = directory / name
    path.write_text(value + "\n")
    path.chmod(mode)
    return str(path)


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
    base.pop("DATABASE_URL", None)
    return subprocess.run(
        [CHECKOUT, "doctor"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def production(tmp_path: Path) -> dict[str, str]:
    """A production configuration as docs/DEPLOY.md describes it."""
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    cert, key = self_signed(tmp_path, days=90, name="private-")
    return {
        "CHECKOUT_ENV": "production",
        "CHECKOUT_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "postgresql+psycopg://checkout@db.internal/checkout?sslmode=verify-full",
        "CHECKOUT_KEYSTORE_URL_FILE": _secret_file(
            secrets_dir,
            "keystore_url",
            "postgresql+psycopg://keys@keys.internal/keys?sslmode=verify-full",
        ),
        "CHECKOUT_SECRET_KEY_FILE": _secret_file(secrets_dir, "secret_key", _key()),
        "CHECKOUT_KEK_FILE": _secret_file(secrets_dir, "kek", _key()),
        "CHECKOUT_STRIPE_API_BASE": "https://api.stripe.com",
        "CHECKOUT_STRIPE_SECRET_KEY_FILE": _secret_file(
            secrets_dir, "stripe_key", "sk_live_" + secrets.token_hex(16)
        ),
        "CHECKOUT_STRIPE_WEBHOOK_SECRETS_FILE": _secret_file(
            secrets_dir, "stripe_hooks", "whsec_" + secrets.token_hex(24)
        ),
        "CHECKOUT_PUBLIC_HOST": "0.0.0.0",
        "CHECKOUT_TRUSTED_PROXIES": "10.0.1.0/24",
        "CHECKOUT_PRIVATE_HOST": "10.0.2.15",
        "CHECKOUT_PRIVATE_TLS_CERT": str(cert),
        "CHECKOUT_PRIVATE_TLS_KEY": str(key),
        "CHECKOUT_CORS_ORIGINS": "https://shop.example.com",
    }


def test_a_production_deployment_as_documented_has_nothing_unsafe(
    production: dict[str, str],
) -> None:
    result = doctor(production)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "UNSAFE" not in result.stdout
    assert result.stdout.strip().endswith("0 unsafe, 0 warnings (production configuration)")


def test_dev_mode_is_unsafe(tmp_path: Path) -> None:
    result = doctor({"CHECKOUT_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "UNSAFE   CHECKOUT_ENV: dev mode" in result.stdout
    assert "UNSAFE   DATABASE_URL: SQLite" in result.stdout


def test_an_unsafe_production_deployment_is_named_point_by_point_without_values(
    production: dict[str, str], tmp_path: Path
) -> None:
    weak_root = base64.urlsafe_b64encode(b"a" * 32).decode()
    test_key = "sk_test_" + secrets.token_hex(16)
    kek = _key()
    env = {
        **production,
        "CHECKOUT_KEYSTORE_URL_FILE": _secret_file(
            tmp_path,
            "keystore_same",
            "postgresql+psycopg://other@db.internal/checkout?sslmode=verify-full",
        ),
        "DATABASE_URL": "postgresql+psycopg://checkout:pw-in-url@db.internal/checkout",
        "CHECKOUT_SECRET_KEY": weak_root,
        "CHECKOUT_KEK_FILE": _secret_file(tmp_path, "kek_open", kek, mode=0o644),
        "CHECKOUT_KEK_PREVIOUS": _key(),
        "CHECKOUT_STRIPE_SECRET_KEY": test_key,
        "CHECKOUT_TRUSTED_PROXIES": "",
        "CHECKOUT_PRIVATE_HOST": "93.184.216.34",
        "CHECKOUT_CORS_ORIGINS": "http://shop.example.com",
        "CHECKOUT_RATE_LIMITS": "off",
    }
    env.pop("CHECKOUT_STRIPE_SECRET_KEY_FILE")
    result = doctor(env)
    assert result.returncode == 1
    out = result.stdout
    for expected in (
        "UNSAFE   public listener: plain HTTP and no trusted proxy",
        "UNSAFE   CHECKOUT_KEYSTORE_URL: the key store is in the main database",
        "UNSAFE   CHECKOUT_PRIVATE_HOST: 93.184.216.34 is a public address",
        "UNSAFE   CHECKOUT_CORS_ORIGINS: http://shop.example.com is not https",
        "UNSAFE   CHECKOUT_SECRET_KEY: too few distinct bytes",
        "UNSAFE   CHECKOUT_STRIPE_SECRET_KEY: a Stripe test-mode key",
        "UNSAFE   CHECKOUT_RATE_LIMITS: off",
        "WARNING  DATABASE_URL: no sslmode=verify-full",
        "WARNING  CHECKOUT_KEK_FILE: the file is readable by group or others",
        "INFO     CHECKOUT_KEK_PREVIOUS: set",
        "INFO     CHECKOUT_STRIPE_SECRET_KEY: given in the environment",
    ):
        assert expected in out, out
    for value in (weak_root, test_key, kek, "pw-in-url", env["CHECKOUT_KEK_PREVIOUS"]):
        assert value not in out and value not in result.stderr


def test_wide_proxy_trust_and_an_expired_certificate_are_unsafe(
    production: dict[str, str], tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path, days=-1, name="expired-")
    env = {
        **production,
        "CHECKOUT_TRUSTED_PROXIES": "0.0.0.0/0",
        "CHECKOUT_PUBLIC_TLS_CERT": str(cert),
        "CHECKOUT_PUBLIC_TLS_KEY": str(key),
    }
    result = doctor(env)
    assert result.returncode == 1
    assert "UNSAFE   CHECKOUT_TRUSTED_PROXIES: 0.0.0.0/0 trusts X-Forwarded-For" in result.stdout
    assert "UNSAFE   CHECKOUT_PUBLIC_TLS_CERT: the certificate has expired" in result.stdout


def test_a_configuration_that_does_not_load_exits_2_and_names_the_problems(
    tmp_path: Path,
) -> None:
    secret = "sk_live_" + secrets.token_hex(16)
    result = doctor(
        {
            "CHECKOUT_ENV": "production",
            "CHECKOUT_DATA_DIR": str(tmp_path),
            "CHECKOUT_STRIPE_SECRET_KEY": secret,
            "CHECKOUT_TRUSTED_PROXIES": "everyone",
        }
    )
    assert result.returncode == 2
    assert "UNSAFE   configuration: DATABASE_URL is not set" in result.stdout
    assert "CHECKOUT_TRUSTED_PROXIES must be IP addresses" in result.stdout
    assert secret not in result.stdout + result.stderr
