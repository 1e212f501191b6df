"""PayPal's `PayPal-Request-Id` semantics, as the emulator applies them.

A POST carrying a request id that was already answered successfully on the same
endpoint gets that first answer again: same status, same body. PayPal does not
compare bodies: a different body under a used id is still a replay of the first
request, so the emulator ignores the body too (an adapter that reuses ids for
different requests gets the old answer, as it would from PayPal). Only
successes are stored: a refused call (say a capture before approval) may be
retried under the same id once the cause is gone. Ids are scoped to the endpoint
(method and path): PayPal does not document reuse across endpoints, and treating
it as a new request is the reading that can never hand back the wrong resource.
Callers hold `state.lock` across lookup, execution and `remember`.
"""

from __future__ import annotations

from providers.paypal_emulator.state import REQUEST_ID_TTL_SECONDS, PayPalState, StoredResponse


def recall(state: PayPalState, endpoint: str, request_id: str) -> StoredResponse | None:
    _forget_expired(state)
    return state.request_ids.get((endpoint, request_id))


def remember(state: PayPalState, endpoint: str, request_id: str, response: StoredResponse) -> None:
    state.request_ids[(endpoint, request_id)] = response


def _forget_expired(state: PayPalState) -> None:
    # Dicts keep insertion order, which is storage-time order, so expired entries are
    # at the front and the sweep stops at the first live one.
    cutoff = state.clock() - REQUEST_ID_TTL_SECONDS
    while state.request_ids:
        oldest = next(iter(state.request_ids))
        if state.request_ids[oldest].stored_at > cutoff:
            break
        del state.request_ids[oldest]
