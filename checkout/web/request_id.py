"""Request ids: accepted from a plain-looking header or minted; the edge middleware
echoes them on every response. The id lives in the ASGI scope (for handlers and error
bodies) and in a context variable (for log records written anywhere in the request).
"""

from __future__ import annotations

import contextvars
import random
import re

from starlette.types import Scope

_SCOPE_KEY = "checkout.request_id"
# A caller (a load balancer, another service) may pass its own id for tracing; anything
# that is not short and plain is replaced, so ids cannot smuggle data into our logs.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
# The id is written to every log line unmasked, so none may carry a card-number-length
# digit run (the card-data guard refuses such a request, but its refusal is logged too).
_LONG_DIGITS = re.compile(r"\d(?:[-]?\d){12}")

_random = random.Random()  # noqa: S311  (ids, not secrets; see new_request_id)

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default="-"
)


def new_request_id() -> str:
    # A request id is a correlation handle, not a secret: the fast generator will do, and
    # the getrandom() system call per request of the secrets module showed in profiles.
    return f"req_{_random.getrandbits(96):024x}"


def request_id_of(scope: Scope) -> str:
    rid = scope.get(_SCOPE_KEY)
    return rid if isinstance(rid, str) else current_request_id.get()


def assign_request_id(scope: Scope) -> str:
    """Take the caller's id when it is plain, else mint one; record it for this request."""
    incoming = ""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = value.decode("latin-1")
            break
    acceptable = _ACCEPTABLE.match(incoming) and not _LONG_DIGITS.search(incoming)
    rid = incoming if acceptable else new_request_id()
    scope[_SCOPE_KEY] = rid
    return rid
