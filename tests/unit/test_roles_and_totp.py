"""Roles hold exactly API.md's table; TOTP codes are RFC 6238's and accepted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from checkout.access.roles import PERMISSIONS, Permission, Role, UnknownRole, parse_role
from checkout.access.totp import TotpKey, decode_secret, encode_secret, new_secret, step_of

P = Permission


def test_each_role_is_the_one_below_plus_its_own() -> None:
    order = list(Role)
    assert order == [Role.VIEWER, Role.FULFILLMENT, Role.SUPPORT, Role.MANAGER, Role.ADMIN]
    own = {
        Role.VIEWER: {P.ORDERS_READ},
        Role.FULFILLMENT: {P.ORDERS_READ_PII_SHIPPING, P.ORDERS_FULFILL},
        Role.SUPPORT: {P.ORDERS_REFUND_LIMITED, P.ORDERS_CANCEL_UNPAID},
        Role.MANAGER: {P.ORDERS_REFUND, P.ORDERS_CAPTURE, P.ORDERS_CANCEL},
        Role.ADMIN: {P.STAFF_MANAGE, P.AUDIT_READ},
    }
    below: frozenset[Permission] = frozenset()
    for role in order:
        assert PERMISSIONS[role] == below | own[role]
        below = PERMISSIONS[role]
    assert PERMISSIONS[Role.ADMIN] == frozenset(Permission)


def test_only_admins_manage_staff_and_read_the_audit_log() -> None:
    for role in Role:
        assert role.allows(P.STAFF_MANAGE) is (role is Role.ADMIN)
        assert role.allows(P.AUDIT_READ) is (role is Role.ADMIN)
    assert not Role.SUPPORT.allows(P.ORDERS_REFUND) and Role.SUPPORT.allows(P.ORDERS_REFUND_LIMITED)
    assert not Role.VIEWER.allows(P.ORDERS_READ_PII_SHIPPING)


def test_an_unknown_role_is_refused_by_name() -> None:
    assert parse_role("support") is Role.SUPPORT
    with pytest.raises(UnknownRole, match="known: viewer"):
        parse_role("root")


def test_codes_match_rfc_6238_sha1_test_vectors() -> None:
    # RFC 6238 appendix B, SHA-1 seed "12345678901234567890", truncated to 6 digits.
    key = TotpKey(b"12345678901234567890")
    assert key.code(59 // 30) == "287082"
    assert key.code(1111111109 // 30) == "081804"
    assert key.code(1234567890 // 30) == "005924"


def test_a_code_is_accepted_one_step_either_side_and_only_after_the_last_used() -> None:
    key = TotpKey(new_secret())
    now = datetime(2030, 1, 1, 12, 0, 10, tzinfo=UTC)
    step = step_of(now)
    assert key.matching_step(key.code(step), now, after=None) == step
    assert key.matching_step(key.code(step - 1), now, after=None) == step - 1
    assert key.matching_step(key.code(step + 1), now, after=None) == step + 1
    assert key.matching_step(key.code(step - 2), now, after=None) is None
    assert key.matching_step(key.code(step), now + timedelta(minutes=2), after=None) is None
    # Replay: the step already used, or an older one, is refused.
    assert key.matching_step(key.code(step), now, after=step) is None
    assert key.matching_step(key.code(step - 1), now, after=step) is None
    assert key.matching_step(key.code(step + 1), now, after=step) == step + 1
    for junk in ("", "12345", "1234567", "abcdef", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        assert key.matching_step(junk, now, after=None) is None


def test_the_key_hides_its_secret_and_the_uri_carries_it() -> None:
    secret = new_secret()
    key = TotpKey(secret)
    assert repr(key) == "TotpKey()"
    assert decode_secret(encode_secret(secret)) == secret
    uri = key.provisioning_uri("ops@example.com")
    assert uri.startswith("otpauth://totp/")
    assert f"secret={encode_secret(secret)}" in uri
    assert "algorithm=SHA1" in uri and "digits=6" in uri and "period=30" in uri
