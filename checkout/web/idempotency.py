"""``Idempotency-Key`` for mutating POSTs, exactly as API.md says.

Same key + same actor + same body within 24 h replays the first response byte for byte;
the same key with another body is ``409 idempotency_conflict``; a duplicate that arrives
while the first is still running is ``409`` with ``Retry-After``. The actor is a hash of
the caller's credential (bearer token or checkout secret), so one caller's keys never
answer another's requests; for staff, whose guard runs first, it is the member, so a
retry from a new session of the same member still finds its answer. Stored responses
are encrypted: they can hold a client secret. Server errors (5xx) are not stored, so the
client's retry runs again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from checkout.services.uow import UnitOfWork
from checkout.store import idempotency as store
from checkout.web.error_map import as_api_error
from checkout.web.errors import IdempotencyConflict, NotFound, ValidationFailed, render
from customers.pii import FieldCipher, PiiDecryptError

Endpoint = Callable[[Request], Awaitable[Response]]
HEADER = "idempotency-key"
_TABLE = "idempotency_keys"


def _actor(request: Request) -> str:
    staff = getattr(request.state, "staff", None)
    if staff is not None:
        return hashlib.sha256(b"actor:staff:" + str(staff.member_id).encode()).hexdigest()
    credential = request.headers.get("authorization") or request.headers.get(
        "x-checkout-secret", ""
    )
    return hashlib.sha256(b"actor:" + credential.encode()).hexdigest()


def _request_hash(request: Request, body: bytes) -> str:
    h = hashlib.sha256()
    h.update(request.method.encode() + b" " + request.url.path.encode() + b"\n")
    h.update(body)
    return h.hexdigest()


class Idempotency:
    def __init__(
        self, uow: UnitOfWork, cipher: FieldCipher, *, lease: timedelta = store.LEASE
    ) -> None:
        self._uow = uow
        self._cipher = cipher
        self._lease = lease

    def __call__(self, endpoint: Endpoint) -> Endpoint:
        async def wrapped(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return await endpoint(request)
            return await self._handle(request, key, endpoint)

        wrapped.__name__ = endpoint.__name__
        wrapped.__doc__ = endpoint.__doc__
        return wrapped

    async def _handle(self, request: Request, key: str, endpoint: Endpoint) -> Response:
        if not 1 <= len(key) <= 255 or not key.isprintable() or not key.isascii():
            raise ValidationFailed(
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                fields={"Idempotency-Key": "invalid"},
            )
        actor = _actor(request)
        body = await request.body()
        req_hash = _request_hash(request, body)

        def claim() -> store.Claim:
            with self._uow.write() as s:
                return store.claim(s, actor, key, req_hash, self._lease)

        claimed = await self._uow.run(claim)
        if claimed.outcome == "mismatch":
            raise IdempotencyConflict(
                "This Idempotency-Key was used with a different request body."
            )
        if claimed.outcome == "in_flight":
            raise IdempotencyConflict(
                "A request with this Idempotency-Key is still being processed.",
                headers={"Retry-After": "1"},
            )
        row_id = f"{actor}/{key}"
        if claimed.outcome == "replay":
            assert claimed.status is not None and claimed.response_enc is not None
            try:
                stored = self._cipher.decrypt(
                    claimed.response_enc, table=_TABLE, column="response", row_id=row_id
                )
            except PiiDecryptError:
                # Stored under a customer's key that erasure destroyed: nothing to replay.
                raise NotFound("No such object.") from None
            return Response(
                stored.encode(),
                status_code=claimed.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            response = await endpoint(request)
        except Exception as exc:
            mapped = as_api_error(exc)
            if mapped is None or mapped.status >= 500:
                await self._release(actor, key)
                raise
            response = render(mapped, request.scope)
        if response.status_code >= 500:
            await self._release(actor, key)
            return response
        enc = self._cipher.encrypt(
            bytes(response.body).decode(),
            table=_TABLE,
            column="response",
            row_id=row_id,
            # A signed-in customer's response can hold their email or address: under
            # their own key, so erasing them makes it unreadable in every backup too.
            owner=getattr(request.state, "customer_id", None),
        )

        def finish() -> None:
            with self._uow.write() as s:
                store.finish(s, actor, key, response.status_code, enc)

        await self._uow.run(finish)
        return response

    async def _release(self, actor: str, key: str) -> None:
        def release() -> None:
            with self._uow.write() as s:
                store.release(s, actor, key)

        await self._uow.run(release)
