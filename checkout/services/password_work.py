"""argon2id work off the event loop, a bounded number at a time.

Each hash or verification takes about 120 ms of CPU and 64 MiB while it runs: on the
loop it would stall every other request, and unbounded it would let a burst of sign-ins
exhaust memory. So it runs on worker threads (argon2-cffi releases the GIL) behind a
``CapacityLimiter``; requests beyond it wait their turn. The hasher is made on first use:
it computes its dummy hash when built, which a process that never signs anyone in (the
worker, the CLI) need not pay for.
"""

from __future__ import annotations

import anyio
import anyio.to_thread

from customers.passwords import DEFAULT_PARAMETERS, Argon2Parameters, Passwords

# Two at once: the development machine's two cores, and 128 MiB at most.
DEFAULT_CONCURRENCY = 2


class PasswordWork:
    def __init__(
        self,
        parameters: Argon2Parameters = DEFAULT_PARAMETERS,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._parameters = parameters
        self._concurrency = concurrency
        self._passwords: Passwords | None = None
        # Made inside the event loop, on first use (anyio binds a limiter to its loop).
        self._limiter: anyio.CapacityLimiter | None = None

    def __repr__(self) -> str:
        return f"PasswordWork(concurrency={self._concurrency})"

    @property
    def passwords(self) -> Passwords:
        if self._passwords is None:
            self._passwords = Passwords(self._parameters)
        return self._passwords

    def _limit(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._concurrency)
        return self._limiter

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(
            lambda: self.passwords.hash(password), limiter=self._limit()
        )

    async def verify(self, stored: str | None, password: str) -> bool:
        """False for a wrong password and for an unknown account (``stored=None``) alike,
        after the same work."""
        return await anyio.to_thread.run_sync(
            lambda: self.passwords.verify(stored, password), limiter=self._limit()
        )

    def needs_rehash(self, stored: str) -> bool:
        return self.passwords.needs_rehash(stored)
