"""The password policy: lengths in code points after NFKC, common and trivial passwords,
the email's local part."""

from __future__ import annotations

import random
import string
import unicodedata

import pytest

from customers.password_policy import (
    CommonPasswords,
    PasswordPolicy,
    PasswordPolicyError,
    PolicyViolation,
)

POLICY = PasswordPolicy()
EMAIL = "jane.doe@example.com"


def test_the_shipped_list_is_loaded_lowercase_without_comments() -> None:
    common = CommonPasswords.shipped()
    assert len(common) > 1500
    assert "123456" in common
    assert "password" in common
    assert "correcthorsebatterystaple" in common
    assert not any(str(w).startswith("#") for w in common._words)
    assert all(w == w.casefold() for w in common._words)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("", PolicyViolation.TOO_SHORT),
        ("Xk4#pQ9!mZ2", PolicyViolation.TOO_SHORT),  # 11
        ("password", PolicyViolation.TOO_SHORT),  # length is checked first
        ("Xk4#pQ9!mZ2@", None),  # 12
    ],
)
def test_length_limits(password: str, reason: PolicyViolation | None) -> None:
    assert POLICY.violation(password) == reason


def test_length_counts_code_points_after_nfkc() -> None:
    eleven = "éàüöñçåøßîõ"
    decomposed = unicodedata.normalize("NFD", eleven)
    assert len(decomposed) > 12  # counted naively it would pass
    assert POLICY.violation(decomposed) == PolicyViolation.TOO_SHORT
    assert POLICY.violation(decomposed + "x") is None
    # A ligature counts as the letters it stands for.
    assert POLICY.violation("\ufb03" + "Xk4#pQ9!m") is None  # "ffi" + 9 = 12
    assert POLICY.violation("\ufb03" + "Xk4#pQ9!") == PolicyViolation.TOO_SHORT


def test_at_most_256_characters() -> None:
    rng = random.Random(7)
    text = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(256))
    assert POLICY.violation(text) is None
    assert POLICY.violation(text + "x") == PolicyViolation.TOO_LONG
    # Emoji are one code point each, however many bytes.
    assert POLICY.violation("🦊🐙🦉🐝🦀🐢🦋🐬🦒🐞🦜🐳") is None


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "PASSWORD123456",
        "qwertyuiopasdfghjkl",
        "correcthorsebatterystaple",
        "Correct Horse Battery Staple",
        # Full-width "1qaz2wsx3edc": NFKC makes it the listed one.
        "".join(chr(ord(c) + 0xFEE0) for c in "1qaz2wsx3edc"),
    ],
)
def test_listed_passwords_are_refused(password: str) -> None:
    assert POLICY.violation(password) == PolicyViolation.COMMON


@pytest.mark.parametrize(
    "password",
    [
        "monkey2024!!!",
        "Summer2024!!",
        "Dragon123456",
        "!!!sunshine!!!",
        "P@ssw0rd2024",
        "f00tb@ll123456",
        "iloveyou4321!",
        "michael1987!?",
    ],
)
def test_a_listed_password_padded_with_trivia_is_refused(password: str) -> None:
    assert POLICY.violation(password) == PolicyViolation.COMMON


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaaaa",
        "            ",
        "123456789012",
        "abcdefghijkl",
        "zyxwvutsrqpo",
        "1234567890qwerty",
        "qwertyuiop12",
        "asdfghjkl;'!",
        "1qaz2wsx3edc4rfv5tgb",
        "zaq12wsxcde34rfv",
        "abcabcabcabc",
        "passwordpassword",
        "xK9!xK9!xK9!",
        "2024202420242024",
        "199019911992!",
    ],
)
def test_trivial_patterns_are_refused(password: str) -> None:
    assert POLICY.violation(password) == PolicyViolation.COMMON


@pytest.mark.parametrize(
    "password",
    [
        "Xk4#pQ9!mZ2@",
        "glacier orbit velvet",
        "purple-elephant-sky",
        "Tr0ub4dor&3xyz",
        "kj7abc9!xQ2mzz",
        "my cat eats basil on sundays",
        "Hänsel und Grätel 1812",
        "日本語のパスワードですよ",  # Japanese: "it is a Japanese password, you know"
    ],
)
def test_good_passwords_pass(password: str) -> None:
    assert POLICY.violation(password, email=EMAIL) is None


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("jane.doe-rocks-77", EMAIL),
        ("JaneDoe!Summer", EMAIL),
        ("JANE.DOE.was.here", "Jane.Doe@Example.com"),
        ("xx-jane-xx-rocks", "jane+shop@example.com"),
    ],
)
def test_a_password_containing_the_emails_local_part_is_refused(password: str, email: str) -> None:
    assert POLICY.violation(password, email=email) == PolicyViolation.CONTAINS_EMAIL


def test_a_very_short_local_part_is_not_held_against_the_password() -> None:
    assert POLICY.violation("jo-is-my-nickname", email="jo@example.com") is None


def test_check_raises_a_typed_error_naming_the_reason_not_the_password() -> None:
    with pytest.raises(PasswordPolicyError, match="at least 12 characters") as caught:
        POLICY.check("hunter2")
    assert caught.value.reason is PolicyViolation.TOO_SHORT
    with pytest.raises(PasswordPolicyError, match="too common") as caught:
        POLICY.check("monkey2024!!!")
    assert caught.value.reason == "common"
    assert "monkey" not in repr(caught.value) and "monkey" not in str(caught.value)
    assert repr(caught.value) == "PasswordPolicyError(reason='common')"
    POLICY.check("glacier orbit velvet", email=EMAIL)


def test_a_policy_can_be_given_its_own_list_and_limits() -> None:
    policy = PasswordPolicy(min_length=16, common=CommonPasswords(["ZebraCrossing"]))
    assert policy.violation("zebracrossing!!!!") == PolicyViolation.COMMON
    assert policy.violation("glacier orbit velvet") is None
    assert policy.violation("glacier orbit") == PolicyViolation.TOO_SHORT
    with pytest.raises(PasswordPolicyError, match="at least 16"):
        policy.check("glacier orbit")


def test_the_worst_case_input_is_checked_quickly() -> None:
    import time

    rng = random.Random(3)
    inputs = [
        "a" * 255 + "b",
        "1234567890" * 25 + "!",
        "".join(rng.choice(string.printable[:94]) for _ in range(256)),
        "ab" * 127 + "c!",
    ]
    for text in inputs:
        start = time.perf_counter()
        POLICY.violation(text)
        assert time.perf_counter() - start < 0.5
