"""The private listener binds loopback unless CHECKOUT_PRIVATE_HOST names another address."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from checkout.config import Settings, load_settings
from checkout.serve import PrivateBindRefused, check_private_bind


def _settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"CHECKOUT_DATA_DIR": str(tmp_path), **env})


def test_the_default_is_loopback_and_starts(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    assert s.private_host == "127.0.0.1" and not s.private_host_explicit
    check_private_bind(s)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_a_named_address_is_the_operators_choice(tmp_path: Path, host: str) -> None:
    s = _settings(tmp_path, CHECKOUT_PRIVATE_HOST=host)
    assert s.private_host_explicit
    check_private_bind(s)


def test_an_empty_value_would_bind_every_interface_and_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PrivateBindRefused, match="CHECKOUT_PRIVATE_HOST"):
        check_private_bind(_settings(tmp_path, CHECKOUT_PRIVATE_HOST=""))


def test_a_non_loopback_host_not_named_by_the_operator_is_refused(tmp_path: Path) -> None:
    # Settings built in code (not from CHECKOUT_PRIVATE_HOST) get no exemption.
    s = replace(_settings(tmp_path), private_host="0.0.0.0")
    with pytest.raises(PrivateBindRefused):
        check_private_bind(s)
    check_private_bind(replace(s, private_host="::1"))
    check_private_bind(replace(s, private_host="localhost"))
