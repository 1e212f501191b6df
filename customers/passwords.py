"""Password hashing: argon2id through argon2-cffi, parameters recorded in each hash.

Default parameters: m=64 MiB, t=2, p=1. OWASP's floor is m=19 MiB, t=2, p=1 (about 20 ms
here); ours cost 3.4 times its memory-passes, about 120 ms per hash or verification on
one core of the development machine (2 shared cores, see docs/ARCHITECTURE.md). That is
an acceptable pause for a sign-in and a real cost to anyone guessing offline. p=1 because
extra lanes buy the defender nothing without idle cores and hand the attacker
parallelism for free. Memory is per verification in flight: callers bound how many run at
once (64 MiB each).

Passwords are NFKC-normalized before hashing, so the same password typed as composed or
decomposed Unicode (or with compatibility characters) verifies.
"""

from __future__ import annotations

import contextlib
import secrets
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet: equivalent argon2id settings (p=1), minimum memory in
# KiB for each number of passes; five passes or more need 7 MiB.
_OWASP_MIN_MEMORY_KIB = {1: 47104, 2: 19456, 3: 12288, 4: 9216, 5: 7168}


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _encode(password: str) -> bytes:
    # A JSON body can carry a lone surrogate; encoding it must not raise, and a password
    # hashed with one must verify with the same one.
    return normalize(password).encode("utf-8", errors="surrogatepass")


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    memory_kib: int = 65536
    time_cost: int = 2
    parallelism: int = 1

    @property
    def meets_owasp_minimum(self) -> bool:
        if self.time_cost < 1 or self.parallelism < 1:
            return False
        floor = _OWASP_MIN_MEMORY_KIB.get(self.time_cost, _OWASP_MIN_MEMORY_KIB[5])
        return self.memory_kib >= floor


DEFAULT_PARAMETERS = Argon2Parameters()


class Passwords:
    """Hash, verify and rehash passwords under one set of argon2id parameters.

    ``verify`` never raises and answers False for a wrong password, an unknown account
    (``stored=None``) and an unreadable hash alike, each after the work of one real
    verification, so its time says nothing about which it was.
    """

    def __init__(self, parameters: Argon2Parameters = DEFAULT_PARAMETERS) -> None:
        self._parameters = parameters
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # A hash of a password nobody knows, under the same parameters: verifying against
        # it costs what verifying against a real account's hash costs.
        self._dummy = self._hasher.hash(secrets.token_bytes(32))

    @property
    def parameters(self) -> Argon2Parameters:
        return self._parameters

    def __repr__(self) -> str:
        p = self._parameters
        return f"Passwords(argon2id m={p.memory_kib} t={p.time_cost} p={p.parallelism})"

    def hash(self, password: str) -> str:
        """The PHC string (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``) to store."""
        return self._hasher.hash(_encode(password))

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`; pass None for an unknown account."""
        if stored is None:
            return self.dummy_verify(password)
        try:
            # libargon2 compares the digests in constant time.
            return self._hasher.verify(stored, _encode(password))
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError, ValueError, TypeError):
            # A corrupt or foreign hash must not answer faster than a wrong password.
            return self.dummy_verify(password)

    def dummy_verify(self, password: str) -> bool:
        """Spend one verification's time and answer False (for an unknown email)."""
        with contextlib.suppress(VerificationError):
            self._hasher.verify(self._dummy, _encode(password))
        return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether a hash that just verified should be replaced by one under the current
        parameters (they changed since it was made); True for an unreadable hash."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except (InvalidHashError, VerificationError, ValueError):
            return True
