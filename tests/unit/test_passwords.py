"""argon2id hashing: parameters in the hash, rehash on change, never raising, even timing."""

from __future__ import annotations

import statistics
import time
import unicodedata
from collections.abc import Callable

import pytest

from customers.passwords import DEFAULT_PARAMETERS, Argon2Parameters, Passwords

# Cheap parameters keep these tests fast; the defaults are checked on their own.
FAST = Argon2Parameters(memory_kib=1024, time_cost=1, parallelism=1)
SLOWER = Argon2Parameters(memory_kib=2048, time_cost=2, parallelism=1)
PASSWORD = "glacier orbit velvet 42"


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(FAST)


def test_a_hash_records_argon2id_and_its_parameters(passwords: Passwords) -> None:
    stored = passwords.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert PASSWORD not in stored
    assert passwords.hash(PASSWORD) != stored  # salted


def test_default_parameters_are_at_or_above_owasps_minimum() -> None:
    assert Argon2Parameters(memory_kib=65536, time_cost=2, parallelism=1) == DEFAULT_PARAMETERS
    assert DEFAULT_PARAMETERS.meets_owasp_minimum
    assert Argon2Parameters(memory_kib=19456, time_cost=2).meets_owasp_minimum
    assert Argon2Parameters(memory_kib=47104, time_cost=1).meets_owasp_minimum
    assert Argon2Parameters(memory_kib=7168, time_cost=6).meets_owasp_minimum
    assert not Argon2Parameters(memory_kib=19455, time_cost=2).meets_owasp_minimum
    assert not Argon2Parameters(memory_kib=19456, time_cost=1).meets_owasp_minimum
    assert not FAST.meets_owasp_minimum


def test_the_right_password_verifies_and_a_wrong_one_does_not(passwords: Passwords) -> None:
    stored = passwords.hash(PASSWORD)
    assert passwords.verify(stored, PASSWORD)
    assert not passwords.verify(stored, PASSWORD + " ")
    assert not passwords.verify(stored, "")


def test_unicode_forms_of_one_password_verify_alike(passwords: Passwords) -> None:
    composed = "crème brûlée façade"
    stored = passwords.hash(composed)
    assert passwords.verify(stored, unicodedata.normalize("NFD", composed))
    # Compatibility characters too: a ligature and full-width letters.
    stored = passwords.hash("office fizz ABC")
    assert passwords.verify(stored, "o\ufb03ce \ufb01zz \uff21\uff22\uff23")


def test_a_lone_surrogate_hashes_and_verifies_without_raising(passwords: Passwords) -> None:
    odd = "lone \ud800 surrogate"
    stored = passwords.hash(odd)
    assert passwords.verify(stored, odd)
    assert not passwords.verify(stored, "lone  surrogate")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not a hash",
        "$argon2id$",
        "$argon2id$v=19$m=abc,t=1,p=1$c2FsdA$aGFzaA",
        "$argon2id$v=19$m=1024,t=1,p=1$!!!$???",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "5f4dcc3b5aa765d61d8327deb882cf99",  # md5
        "\x00\xff",
    ],
)
def test_a_garbage_hash_never_verifies_and_never_raises(passwords: Passwords, garbage: str) -> None:
    assert passwords.verify(garbage, PASSWORD) is False
    assert passwords.needs_rehash(garbage) is True


def test_a_truncated_hash_never_verifies(passwords: Passwords) -> None:
    stored = passwords.hash(PASSWORD)
    assert passwords.verify(stored[:-5], PASSWORD) is False


def test_an_unknown_account_is_a_dummy_verification_that_fails(passwords: Passwords) -> None:
    assert passwords.verify(None, PASSWORD) is False
    assert passwords.dummy_verify(PASSWORD) is False


def test_a_hash_under_other_parameters_needs_rehash(passwords: Passwords) -> None:
    old = passwords.hash(PASSWORD)
    assert not passwords.needs_rehash(old)
    stronger = Passwords(SLOWER)
    assert stronger.needs_rehash(old)
    # The old hash still verifies under the new parameters: it carries its own.
    assert stronger.verify(old, PASSWORD)
    new = stronger.hash(PASSWORD)
    assert new.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert not stronger.needs_rehash(new)


def test_an_argon2i_hash_verifies_but_needs_rehash(passwords: Passwords) -> None:
    from argon2 import PasswordHasher, Type

    legacy = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.I)
    stored = legacy.hash(PASSWORD)
    assert passwords.verify(stored, PASSWORD)
    assert passwords.needs_rehash(stored)


def test_repr_shows_parameters_only(passwords: Passwords) -> None:
    assert repr(passwords) == "Passwords(argon2id m=1024 t=1 p=1)"


def test_unknown_email_wrong_password_and_garbage_hash_take_comparable_time() -> None:
    # At the real parameters: the point is that the argon2 work dominates each path.
    passwords = Passwords()
    stored = passwords.hash(PASSWORD)
    timings: dict[str, list[float]] = {"wrong": [], "unknown": [], "garbage": []}
    calls: dict[str, Callable[[], bool]] = {
        "wrong": lambda: passwords.verify(stored, "not the password"),
        "unknown": lambda: passwords.verify(None, "not the password"),
        "garbage": lambda: passwords.verify("garbage", "not the password"),
    }
    for _ in range(7):  # interleaved, so load from other processes hits each alike
        for name, call in calls.items():
            start = time.perf_counter()
            assert call() is False
            timings[name].append(time.perf_counter() - start)
    wrong = statistics.median(timings["wrong"])
    for name in ("unknown", "garbage"):
        ratio = statistics.median(timings[name]) / wrong
        assert 0.5 < ratio < 2.0, (name, ratio)
