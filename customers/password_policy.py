"""Which passwords an account may have: 12 to 256 characters, not common, not the email.

Lengths count Unicode code points after NFKC, the form the password is hashed in, so a
composed "é" and an "e" with a combining accent are one character either way.

"Common" is wider than membership in the shipped list (``data/common-passwords.txt``):
once a 12-character minimum is in force, people reach it by padding a common password
("monkey2024!!!", "password123456") or by typing something trivial ("aaaaaaaaaaaa",
"1234567890qwerty", "abcabcabcabc"). A password is refused as common when it is

- a listed password (spaces, dots, dashes and underscores aside), or
- at most four pieces, each a listed password (at most one, also in the usual letter
  substitutions: "p@ssw0rd"), a trivial run of three or more characters (one character
  repeated, consecutive characters like "abc" or "987", a walk along the keyboard like
  "asdfgh" or "1qaz2wsx", a year), or a single other character (at most two), or
- one short or common piece repeated ("passwordpassword", "xk9!xk9!xk9!").

Guessing tools try exactly these shapes first; a passphrase of several words or a random
string is not covered by them.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

from customers.passwords import normalize

MIN_LENGTH = 12
MAX_LENGTH = 256
# Email local parts shorter than this ("jo@…") would refuse too many good passwords.
_MIN_EMAIL_PART = 3
_MAX_PIECES = 4
_MAX_SINGLE_CHARACTERS = 2
_MIN_RUN = 3
# Walks: the alphabet, the digits and keyboard rows (US, German, French; the shifted
# digits), read both ways. No character repeats within one.
_ROWS = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "!@#$%^&*()",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertzuiop",
    "yxcvbnm",
    "azertyuiop",
    "qsdfghjklm",
    "wxcvbn",
    # Down the keyboard's columns (1qaz2wsx…), up them (zaq1xsw2…), and zig-zag (1q2w3e…).
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "zaq1xsw2cde3vfr4bgt5nhy6mju7ki8lo9p0",
    "1q2w3e4r5t6y7u8i9o0p",
)
_WALKS = tuple(row for r in _ROWS for row in (r, r[::-1]))
_YEAR = re.compile(r"(19|20)\d\d")
_LEET = str.maketrans({"@": "a", "4": "a", "8": "b", "3": "e", "1": "i", "!": "i", "0": "o",
                       "$": "s", "5": "s", "7": "t", "+": "t", "2": "z"})  # fmt: skip


class PolicyViolation(enum.StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    COMMON = "common"
    CONTAINS_EMAIL = "contains_email"


class PasswordPolicyError(Exception):
    """A password the policy refuses; `reason` says why. Never carries the password."""

    def __init__(self, reason: PolicyViolation, policy: PasswordPolicy) -> None:
        self.reason = reason
        messages = {
            PolicyViolation.TOO_SHORT: f"must be at least {policy.min_length} characters",
            PolicyViolation.TOO_LONG: f"must be at most {policy.max_length} characters",
            PolicyViolation.COMMON: "is too common or too easy to guess",
            PolicyViolation.CONTAINS_EMAIL: "must not contain the email address",
        }
        super().__init__(f"password {messages[reason]}")

    def __repr__(self) -> str:
        return f"PasswordPolicyError(reason={self.reason.value!r})"


class CommonPasswords:
    """A set of lowercase common passwords; ``shipped()`` is the package's list."""

    def __init__(self, words: Iterable[str]) -> None:
        self._words = frozenset(w.casefold() for w in words if w)
        self._longest = max((len(w) for w in self._words), default=0)

    @classmethod
    def shipped(cls) -> CommonPasswords:
        return _shipped()

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return word in self._words

    def __repr__(self) -> str:
        return f"CommonPasswords({len(self._words)} words)"

    @property
    def longest(self) -> int:
        return self._longest


@functools.cache
def _shipped() -> CommonPasswords:
    text = resources.files("customers").joinpath("data/common-passwords.txt").read_text("utf-8")
    return CommonPasswords(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = MIN_LENGTH
    max_length: int = MAX_LENGTH
    common: CommonPasswords = field(default_factory=CommonPasswords.shipped)

    def violation(self, password: str, *, email: str | None = None) -> PolicyViolation | None:
        """The first rule `password` breaks (length, then email, then common), or None."""
        text = normalize(password)
        if len(text) < self.min_length:
            return PolicyViolation.TOO_SHORT
        if len(text) > self.max_length:
            return PolicyViolation.TOO_LONG
        key = text.casefold()
        if email is not None and _contains_email(key, email):
            return PolicyViolation.CONTAINS_EMAIL
        if _predictable(key, self.common):
            return PolicyViolation.COMMON
        return None

    def check(self, password: str, *, email: str | None = None) -> None:
        """Raise :class:`PasswordPolicyError` unless the policy accepts `password`."""
        reason = self.violation(password, email=email)
        if reason is not None:
            raise PasswordPolicyError(reason, self)


def _contains_email(key: str, email: str) -> bool:
    local = normalize(email).casefold().rpartition("@")[0] or normalize(email).casefold()
    local = local.split("+", 1)[0]  # jane+shop@… is jane's address
    plain = re.sub(r"[._\-]", "", local)
    return any(len(part) >= _MIN_EMAIL_PART and part in key for part in {local, plain})


def _predictable(key: str, common: CommonPasswords) -> bool:
    compact = re.sub(r"[\s._\-]", "", key)  # "correct horse battery staple"
    if key in common or compact in common:
        return True
    # One unit typed again and again: short units have no entropy to repeat, and a
    # predictable unit stays predictable however often it is typed.
    for size in range(1, len(key) // 2 + 1):
        if len(key) % size == 0 and key[:size] * (len(key) // size) == key:
            unit = key[:size]
            return size <= 4 or unit in common or _covered(unit, common)
    return _covered(key, common)


def _is_word(piece: str, common: CommonPasswords) -> bool:
    return piece in common or piece.translate(_LEET) in common


def _run_ends(key: str) -> list[int]:
    """For each position, where the longest trivial run starting there ends (the position
    itself when none does). Every prefix of at least three characters of a run is a run."""
    n = len(key)
    ends = []
    for i in range(n):
        end = i
        j = i + 1
        while j < n and key[j] == key[i]:
            j += 1
        end = max(end, j)
        for step in (1, -1):
            j = i + 1
            while j < n and ord(key[j]) - ord(key[j - 1]) == step:
                j += 1
            end = max(end, j)
        for walk in _WALKS:
            start = walk.find(key[i])
            if start < 0:
                continue
            # Walks wrap around: "1234567890123" is still one walk along the digits.
            j = i + 1
            while j < n and key[j] == walk[(start + j - i) % len(walk)]:
                j += 1
            end = max(end, j)
        if _YEAR.fullmatch(key[i : i + 4]):
            end = max(end, i + 4)
        ends.append(end if end - i >= _MIN_RUN else i)
    return ends


def _covered(key: str, common: CommonPasswords) -> bool:
    """Whether `key` splits into predictable pieces (see the module docstring)."""
    n = len(key)
    run_end = _run_ends(key)
    reach = common.longest + _MAX_SINGLE_CHARACTERS

    # (position, listed words used, single characters used) -> fewest pieces to the end.
    @functools.cache
    def fewest(i: int, words: int, singles: int) -> int:
        if i == n:
            return 0
        best = _MAX_PIECES + 1
        if singles < _MAX_SINGLE_CHARACTERS:
            best = min(best, 1 + fewest(i + 1, words, singles + 1))
        # Cutting a run short only helps the piece after it overlap the run's tail (a word
        # or single characters; a run could have started at the cut itself), so only cuts
        # within a word's length of the end are tried: linear, not quadratic, in the run.
        for j in range(max(i + _MIN_RUN, run_end[i] - reach), run_end[i] + 1):
            best = min(best, 1 + fewest(j, words, singles))
        if words == 0:
            for j in range(i + _MIN_RUN, min(n, i + common.longest) + 1):
                if _is_word(key[i:j], common):
                    best = min(best, 1 + fewest(j, 1, singles))
        return best

    try:
        return fewest(0, 0, 0) <= _MAX_PIECES
    finally:
        fewest.cache_clear()
