"""Retrying provider calls whose outcome is unknown, with the same idempotency key.

Timeouts, broken connections, 5xx and 429 say nothing about whether the provider acted;
the only safe retry is the identical request under the identical key, which the provider
answers with its stored result. Attempts and delays are bounded, so a caller waits at most
``attempts`` timeouts plus the sum of the delays before the outcome is declared unknown.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from providers.base import ProviderUnavailable

T = TypeVar("T")
log = logging.getLogger("providers.retry")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    first_delay: float = 0.2
    max_delay: float = 2.0

    def worst_case(self, timeout: float) -> float:
        """Seconds a call may take when every attempt times out: the bound callers plan on."""
        backoff = sum(
            min(self.max_delay, self.first_delay * 2.0 ** (retry - 1))
            for retry in range(1, self.attempts)
        )
        return float(self.attempts * timeout + backoff)

    def delay(self, retry: int) -> float:
        """Full-jitter exponential backoff (retry counts from 1)."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** (retry - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311  (timing, not secrets)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


async def with_retries(
    call: Callable[[], Awaitable[T]], policy: RetryPolicy, *, operation: str
) -> T:
    """``call()`` until it answers or ``policy`` runs out; the last failure propagates."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except ProviderUnavailable:
            if attempt == policy.attempts:
                raise
            log.warning(
                "provider call failed; retrying with the same key",
                extra={"operation": operation, "attempt": attempt},
            )
            await asyncio.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover
