from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from checkout import paypal_dev
from checkout.config import DEV_PAYPAL_WEBHOOK_ID, ConfigError, load_settings

STRONG = base64.urlsafe_b64encode(os.urandom(32)).decode()
KEK = base64.urlsafe_b64encode(os.urandom(32)).decode()


def _prod(tmp_path: Path, **env: str) -> dict[str, str]:
    base = {
        "CHECKOUT_ENV": "production",
        "CHECKOUT_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql+psycopg://app@db/checkout",
        "CHECKOUT_SECRET_KEY": STRONG,
        "CHECKOUT_STRIPE_API_BASE": "https://api.stripe.com",
        "CHECKOUT_STRIPE_SECRET_KEY": "sk_live_abc",
        "CHECKOUT_STRIPE_WEBHOOK_SECRETS": "whsec_a,whsec_b",
        "CHECKOUT_KEK": KEK,
        "CHECKOUT_KEYSTORE_URL": "postgresql+psycopg://keys@keydb/keys",
    }
    base.update(env)
    return base


def test_dev_defaults_create_dev_keys_once(tmp_path: Path) -> None:
    s = load_settings({"CHECKOUT_DATA_DIR": str(tmp_path / "d")})
    assert s.env == "dev" and s.run_stripe_emulator
    assert s.public_port == 8000 and s.private_port == 8001
    assert (s.public_host, s.private_host) == ("127.0.0.1", "127.0.0.1")
    key_file = tmp_path / "d" / "dev-secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = load_settings({"CHECKOUT_DATA_DIR": str(tmp_path / "d")})
    assert again.root_secret_bytes() == s.root_secret_bytes()


def test_a_complete_production_configuration_starts(tmp_path: Path) -> None:
    s = load_settings(_prod(tmp_path))
    assert s.is_production and not s.run_stripe_emulator
    assert len(s.stripe_webhook_secrets) == 2


def test_secrets_do_not_show_in_repr(tmp_path: Path) -> None:
    s = load_settings(_prod(tmp_path))
    text = repr(s)
    assert "sk_live_abc" not in text and STRONG not in text and "whsec_a" not in text
    assert KEK not in text and "keydb" not in text


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"CHECKOUT_SECRET_KEY": ""}, "CHECKOUT_SECRET_KEY"),
        ({"CHECKOUT_STRIPE_API_BASE": "http://127.0.0.1:8010"}, "CHECKOUT_STRIPE_API_BASE"),
        ({"CHECKOUT_STRIPE_API_BASE": ""}, "CHECKOUT_STRIPE_API_BASE"),
        ({"CHECKOUT_STRIPE_SECRET_KEY": "sk_test_emulator_dev"}, "dev emulator key"),
        ({"CHECKOUT_STRIPE_SECRET_KEY": ""}, "CHECKOUT_STRIPE_SECRET_KEY"),
        ({"CHECKOUT_STRIPE_WEBHOOK_SECRETS": ""}, "CHECKOUT_STRIPE_WEBHOOK_SECRETS"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"CHECKOUT_KEK": ""}, "CHECKOUT_KEK"),
        ({"CHECKOUT_KEK": "c2hvcnQ="}, "CHECKOUT_KEK must be 32 bytes"),
        ({"CHECKOUT_KEK": STRONG}, "CHECKOUT_KEK must differ"),
        ({"CHECKOUT_KEK_PREVIOUS": "c2hvcnQ="}, "CHECKOUT_KEK_PREVIOUS entry must be 32 bytes"),
        ({"CHECKOUT_KEK_PREVIOUS": "not base64!"}, "CHECKOUT_KEK_PREVIOUS must be base64url"),
        ({"CHECKOUT_KEYSTORE_URL": ""}, "CHECKOUT_KEYSTORE_URL"),
        (
            {"CHECKOUT_KEYSTORE_URL": "postgresql+psycopg://app@db/checkout"},
            "must not be the main database",
        ),
    ],
)
def test_production_refuses_and_names_what_is_wrong(
    tmp_path: Path, change: dict[str, str], named: str
) -> None:
    env = {k: v for k, v in _prod(tmp_path, **change).items() if v}
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert any(named in p for p in err.value.problems), err.value.problems


def test_production_refuses_the_dev_key_from_the_data_dir(tmp_path: Path) -> None:
    dev = load_settings({"CHECKOUT_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError) as err:
        load_settings(_prod(tmp_path, CHECKOUT_SECRET_KEY=str(dev.root_secret)))
    assert any("dev key" in p for p in err.value.problems)
    with pytest.raises(ConfigError) as err:
        load_settings(_prod(tmp_path, CHECKOUT_KEK=str(dev.kek)))
    assert any("CHECKOUT_KEK is the dev key" in p for p in err.value.problems)


def test_production_lists_every_problem_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"CHECKOUT_ENV": "production", "CHECKOUT_DATA_DIR": str(tmp_path)})
    assert len(err.value.problems) >= 4


@pytest.mark.parametrize(
    "env",
    [
        {"CHECKOUT_PUBLIC_PORT": "http"},
        {"CHECKOUT_PRIVATE_PORT": "70000"},
        {"CHECKOUT_CAPTURE_MODE": "later"},
        {"CHECKOUT_ENV": "staging"},
        {"DATABASE_URL": "mysql://x"},
        {"CHECKOUT_CORS_ORIGINS": "*"},
        {"CHECKOUT_CORS_ORIGINS": "https://shop.example/checkout"},
        {"CHECKOUT_CORS_ORIGINS": "shop.example"},
        {"CHECKOUT_PUBLIC_PORT": "9000", "CHECKOUT_PRIVATE_PORT": "9000"},
    ],
)
def test_invalid_values_are_refused_at_start(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings({"CHECKOUT_DATA_DIR": str(tmp_path), **env})


def test_cors_allows_the_demo_storefront_in_dev_and_nothing_by_default_in_production(
    tmp_path: Path,
) -> None:
    dev = load_settings({"CHECKOUT_DATA_DIR": str(tmp_path), "CHECKOUT_STOREFRONT_PORT": "9002"})
    assert dev.cors_origins == ("http://127.0.0.1:9002",)
    listed = load_settings(
        {
            "CHECKOUT_DATA_DIR": str(tmp_path),
            "CHECKOUT_CORS_ORIGINS": "https://shop.example, http://localhost:3000",
        }
    )
    assert listed.cors_origins == ("https://shop.example", "http://localhost:3000")


def test_the_request_recorder_is_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(
            {
                "CHECKOUT_ENV": "production",
                "CHECKOUT_DATA_DIR": str(tmp_path),
                "CHECKOUT_TEST_RECORD_REQUESTS": str(tmp_path / "r.jsonl"),
            }
        )
    assert any("CHECKOUT_TEST_RECORD_REQUESTS" in p for p in err.value.problems)
    dev = load_settings(
        {"CHECKOUT_DATA_DIR": str(tmp_path), "CHECKOUT_TEST_RECORD_REQUESTS": str(tmp_path / "r")}
    )
    assert dev.request_record_file == tmp_path / "r"


# --- PayPal webhooks ------------------------------------------------------------------------


def test_dev_with_the_paypal_emulator_verifies_its_webhooks_with_the_dev_pki(
    tmp_path: Path,
) -> None:
    s = load_settings({"CHECKOUT_DATA_DIR": str(tmp_path)})
    assert s.run_paypal_emulator
    assert s.paypal_webhook_id == DEV_PAYPAL_WEBHOOK_ID
    assert s.paypal_dev_pki == tmp_path / "dev-paypal-webhook-pki"
    # Loading settings makes no keys: only `checkout serve` generates the PKI.
    assert not s.paypal_dev_pki.exists()


def test_a_real_paypal_in_dev_has_no_dev_pki(tmp_path: Path) -> None:
    s = load_settings(
        {
            "CHECKOUT_DATA_DIR": str(tmp_path),
            "CHECKOUT_PAYPAL_API_BASE": "https://api-m.sandbox.paypal.com",
        }
    )
    assert not s.run_paypal_emulator and s.paypal_dev_pki is None and not s.paypal_webhook_id


def test_a_ca_bundle_beside_the_emulator_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "roots.pem"
    bundle.write_text("roots")
    with pytest.raises(ConfigError) as err:
        load_settings(
            {"CHECKOUT_DATA_DIR": str(tmp_path), "CHECKOUT_PAYPAL_CA_BUNDLE": str(bundle)}
        )
    assert any("CHECKOUT_PAYPAL_CA_BUNDLE" in p for p in err.value.problems)


def _prod_paypal(tmp_path: Path, **env: str) -> dict[str, str]:
    return _prod(
        tmp_path,
        CHECKOUT_PAYPAL_API_BASE="https://api-m.paypal.com",
        CHECKOUT_PAYPAL_CLIENT_ID="live-client",
        CHECKOUT_PAYPAL_CLIENT_SECRET="live-secret",
        **env,
    )


def test_production_paypal_webhooks_use_the_configured_roots(tmp_path: Path) -> None:
    bundle = tmp_path / "roots.pem"
    bundle.write_text("roots")
    s = load_settings(
        _prod_paypal(
            tmp_path,
            CHECKOUT_PAYPAL_WEBHOOK_ID="8PT597110X687430L",
            CHECKOUT_PAYPAL_CA_BUNDLE=str(bundle),
        )
    )
    assert s.paypal_dev_pki is None and not s.run_paypal_emulator
    assert s.paypal_ca_bundle == bundle


def test_production_refuses_the_emulators_webhook_id_and_test_ca(tmp_path: Path) -> None:
    identity = paypal_dev.ensure_identity(tmp_path / "dev-paypal-webhook-pki")
    copied = tmp_path / "copy.pem"
    copied.write_bytes(b"# roots\n" + identity.ca_pem)
    for bundle in (tmp_path / "dev-paypal-webhook-pki" / "ca.pem", copied):
        with pytest.raises(ConfigError) as err:
            load_settings(
                _prod_paypal(
                    tmp_path,
                    CHECKOUT_PAYPAL_WEBHOOK_ID=DEV_PAYPAL_WEBHOOK_ID,
                    CHECKOUT_PAYPAL_CA_BUNDLE=str(bundle),
                )
            )
        problems = " ".join(err.value.problems)
        assert "CHECKOUT_PAYPAL_WEBHOOK_ID is the dev emulator's" in problems
        assert "test CA" in problems
