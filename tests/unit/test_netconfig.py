"""The network settings: TLS files, trusted proxies, rate limits and timeouts."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from checkout.config import ConfigError, load_settings
from checkout.netconfig import DEFAULT_RATE_LIMITS, RateLimit, load_network, parse_rate_limits
from checkout.tls import CIPHERS, harden
from checkout.web.hardening import request_timeout


def _load(env: dict[str, str]) -> tuple[object, list[str]]:
    problems: list[str] = []
    return load_network(env, problems), problems


def test_defaults_trust_no_proxy_have_no_tls_and_limit_rates() -> None:
    net, problems = _load({})
    assert problems == []
    assert net.public_tls is None and net.private_tls is None  # type: ignore[attr-defined]
    assert net.trusted_proxies == ()  # type: ignore[attr-defined]
    assert set(net.rate_limits) == set(DEFAULT_RATE_LIMITS)  # type: ignore[attr-defined]


def test_rate_limits_can_be_turned_off_or_overridden() -> None:
    problems: list[str] = []
    assert parse_rate_limits("off", problems) == {}
    limits = parse_rate_limits("sign_in=5/30, webhook=100", problems)
    assert limits["sign_in"] == RateLimit(5, 30.0)
    assert limits["webhook"] == RateLimit(100, 60.0)
    assert limits["payment"] == RateLimit(*DEFAULT_RATE_LIMITS["payment"])
    assert problems == []


@pytest.mark.parametrize("raw", ["signin=5/30", "sign_in=five/30", "sign_in=0/30", "sign_in=5/0"])
def test_bad_rate_limits_are_named(raw: str) -> None:
    problems: list[str] = []
    parse_rate_limits(raw, problems)
    assert len(problems) == 1 and "CHECKOUT_RATE_LIMITS" in problems[0]


def test_trusted_proxies_are_ips_or_networks(tmp_path: Path) -> None:
    net, problems = _load({"CHECKOUT_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1,::1"})
    assert problems == []
    assert net.trusted_proxies == ("10.0.0.0/8", "192.0.2.1/32", "::1/128")  # type: ignore[attr-defined]
    _, problems = _load({"CHECKOUT_TRUSTED_PROXIES": "*"})
    assert problems and "CHECKOUT_TRUSTED_PROXIES" in problems[0]


def test_tls_needs_both_files_and_they_must_exist(tmp_path: Path) -> None:
    _, problems = _load({"CHECKOUT_PUBLIC_TLS_CERT": str(tmp_path / "cert.pem")})
    assert problems == ["CHECKOUT_PUBLIC_TLS_CERT and CHECKOUT_PUBLIC_TLS_KEY must be set together"]
    _, problems = _load(
        {
            "CHECKOUT_PRIVATE_TLS_CERT": str(tmp_path / "missing.pem"),
            "CHECKOUT_PRIVATE_TLS_KEY": str(tmp_path / "missing.key"),
        }
    )
    assert len(problems) == 2


def test_the_request_timeout_defaults_above_the_provider_worst_case(tmp_path: Path) -> None:
    env = {"CHECKOUT_DATA_DIR": str(tmp_path)}
    assert request_timeout(load_settings(env)) == pytest.approx(3 * 10 + 0.2 + 0.4 + 15)
    assert request_timeout(load_settings({**env, "CHECKOUT_REQUEST_TIMEOUT": "7"})) == 7
    with pytest.raises(ConfigError, match="CHECKOUT_REQUEST_TIMEOUT"):
        load_settings({**env, "CHECKOUT_REQUEST_TIMEOUT": "-1"})


def test_the_tls_policy_sets_tls_1_2_and_aead_forward_secret_suites() -> None:
    context = harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert CIPHERS.startswith("ECDHE+AESGCM:ECDHE+CHACHA20")
    for suite in context.get_ciphers():
        if suite["protocol"] == "TLSv1.2":
            assert suite["aead"] and suite["kea"] == "kx-ecdhe", suite["name"]
