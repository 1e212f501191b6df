"""Who may call a route: every endpoint of both listeners declares it, and a test walks
both route tables and fails on a route that declares nothing (default deny).

The declaration is the ``checkout_policy`` attribute of a route's endpoint, set by the
decorator that enforces it (``KeyAuth.requires``, ``StaffAuth.requires``,
``CustomerAuth.signed_in``) or, where the check lives in the use case or the webhook
verifier, by :func:`declare`. The vocabulary:

- ``open``: anyone, no credential (catalog, health, metrics; registration and sign-in,
  whose body is the credential)
- ``provider_signature``: a payment provider; the webhook's signature is verified on the
  raw body
- ``guest_or_customer``: anyone; a customer token, if sent, must be live and makes the
  object theirs
- ``checkout_access``: the checkout's client secret, or its owner's customer token
  (else 404)
- ``customer``: a live customer token
- ``scope:<scope>``: an API key holding that scope (private listener)
- ``staff``: any live staff session, whatever the role
- ``staff:<permission>``: a live staff session whose role holds that permission
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from enum import StrEnum

from starlette.requests import Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]
POLICY_ATTR = "checkout_policy"


class Policy(StrEnum):
    OPEN = "open"
    PROVIDER_SIGNATURE = "provider_signature"
    GUEST_OR_CUSTOMER = "guest_or_customer"
    CHECKOUT_ACCESS = "checkout_access"
    CUSTOMER = "customer"
    STAFF = "staff"


_PREFIXES = ("scope:", "staff:")


def is_known(policy: str) -> bool:
    if policy in {p.value for p in Policy}:
        return True
    return any(policy.startswith(p) and len(policy) > len(p) for p in _PREFIXES)


def policy_of(endpoint: object) -> str | None:
    value = getattr(endpoint, POLICY_ATTR, None)
    return value if isinstance(value, str) else None


def mark(endpoint: Endpoint, policy: str) -> Endpoint:
    """Set the declaration on an endpoint that is already a guard of its own."""
    if not is_known(policy):
        raise ValueError(f"unknown route policy {policy!r}")
    setattr(endpoint, POLICY_ATTR, policy)
    return endpoint


def declare(policy: str) -> Callable[[Endpoint], Endpoint]:
    """Declare the policy of an endpoint that enforces it itself (or has it enforced by
    the use case: a checkout's secret, a webhook's signature)."""

    def wrap(fn: Endpoint) -> Endpoint:
        @functools.wraps(fn)
        async def declared(request: Request) -> Response:
            return await fn(request)

        return mark(declared, policy)

    return wrap
