"""Stripe webhooks: the signature checked on the raw bytes, then the event parsed.

Scheme (stripe-python's ``_webhook.py``): ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]``,
HMAC-SHA256 over ``f"{t}.{body}"``. Any ``v1`` matching any configured secret passes
(several secrets during rotation); ``v0`` and other schemes are ignored. Unlike the SDK we
also refuse timestamps too far in the future, so a leaked signed delivery cannot be
post-dated to outlive the window. Only after all that is the body parsed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from providers.base import ListedEvent, ProviderEvent, WebhookRejected

TOLERANCE = 300
MAX_HEADER = 4096  # Real headers carry a handful of signatures; anything longer is abuse.


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = TOLERANCE,
    now: Callable[[], float] = time.time,
) -> None:
    if not header:
        raise WebhookRejected("no Stripe-Signature header")
    if len(header) > MAX_HEADER:
        raise WebhookRejected("Stripe-Signature header too long")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isdigit() or len(value) > 12:
                raise WebhookRejected("unreadable timestamp")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None:
        raise WebhookRejected("no timestamp")
    if not candidates:
        raise WebhookRejected("no v1 signature")
    if abs(now() - timestamp) > tolerance:
        raise WebhookRejected("timestamp outside the tolerance")
    signed = str(timestamp).encode() + b"." + payload
    expected = [hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in secrets]
    # Every pair is compared, in constant time, whatever matched first.
    matched = False
    for candidate in candidates:
        for good in expected:
            matched |= hmac.compare_digest(candidate.encode(), good.encode())
    if not matched:
        raise WebhookRejected("no signature matches")


def _loads(payload: bytes) -> Any:
    # orjson first (a fifth of json's time for a 1.3 KB event, on every delivery); json for
    # what orjson refuses and Python's JSON reads (integers beyond 64 bits, say), so no
    # verified delivery is turned away over which parser read it.
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def parse_event(payload: bytes) -> ProviderEvent:
    try:
        event: Any = _loads(payload)
        obj = event["data"]["object"]
        kind = str(event["type"])
        event_id = str(event["id"])
        created = int(event.get("created") or 0)
    except (ValueError, KeyError, TypeError, RecursionError):
        # RecursionError: nesting deeper than either parser goes, which is not an event.
        raise WebhookRejected("not a Stripe event") from None
    if not event_id.startswith("evt_") or len(event_id) > 255:
        raise WebhookRejected("not a Stripe event id")
    ref: str | None = None
    payment_id: str | None = None
    if isinstance(obj, dict):
        ref_value = obj.get("payment_intent") if obj.get("object") == "charge" else obj.get("id")
        ref = ref_value if isinstance(ref_value, str) else None
        meta = obj.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("payment_id"), str):
            payment_id = meta["payment_id"]
    return ProviderEvent("stripe", event_id, kind, ref, payment_id, created)


def listed_event(raw: Any) -> ListedEvent | None:
    """An event from `GET /v1/events` (a plain dict) as the inbox keeps a delivered one;
    None for one that is not a readable Stripe event."""
    # default=str: the SDK hands decimal fields back as Decimal, which JSON cannot hold.
    payload = json.dumps(raw, separators=(",", ":"), default=str).encode()
    try:
        return ListedEvent(parse_event(payload), payload)
    except WebhookRejected:
        return None


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``: the emulator's and the tests' side."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + payload, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"
