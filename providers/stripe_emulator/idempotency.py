"""Stripe's `Idempotency-Key` semantics.

Same key and same request within 24 hours: the first answer again, byte for
byte, marked `Idempotent-Replayed: true`. Same key, different request: a 400
`idempotency_error`, which the SDK raises as `stripe.IdempotencyError`.
Callers hold `state.lock` across lookup, execution and `remember`, so a
concurrent duplicate waits for the first and then replays it.
"""

from __future__ import annotations

from providers.stripe_emulator.errors import IdempotencyConflict, InvalidRequest
from providers.stripe_emulator.state import (
    IDEMPOTENCY_TTL_SECONDS,
    EmulatorState,
    StoredResponse,
)

MAX_KEY_LENGTH = 255


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"Idempotency keys must be between 1 and {MAX_KEY_LENGTH} characters long.",
            param="Idempotency-Key",
        )


def recall(
    state: EmulatorState, key: str, endpoint: str, request_hash: str
) -> StoredResponse | None:
    _forget_expired(state)
    stored = state.idempotency.get(key)
    if stored is None:
        return None
    if stored.endpoint != endpoint:
        raise IdempotencyConflict(
            "Keys for idempotent requests can only be used for the same endpoint they were "
            f"first used for ('{stored.endpoint}' vs '{endpoint}'). Try using a key other "
            f"than '{key}' if you meant to execute a different request."
        )
    if stored.request_hash != request_hash:
        raise IdempotencyConflict(
            "Keys for idempotent requests can only be used with the same parameters they "
            f"were first used with. Try using a key other than '{key}' if you meant to "
            "execute a different request."
        )
    return stored


def remember(state: EmulatorState, key: str, response: StoredResponse) -> None:
    state.idempotency[key] = response


def _forget_expired(state: EmulatorState) -> None:
    # Dicts keep insertion order, which is storage-time order, so expired
    # entries are at the front and the sweep stops at the first live one.
    cutoff = state.clock() - IDEMPOTENCY_TTL_SECONDS
    while state.idempotency:
        oldest = next(iter(state.idempotency))
        if state.idempotency[oldest].stored_at > cutoff:
            break
        del state.idempotency[oldest]
