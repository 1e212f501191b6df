"""The order list's query parameters, shared by the integration and staff listings.

``status`` (one of the order statuses), ``created[gte]`` and ``created[lt]`` (Unix
seconds, Stripe's range convention), ``q`` (an exact order id, or an exact customer
email), ``limit`` (1-100, default 20) and ``starting_after`` (an order id).
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from checkout.domain.order import ORDER_STATUSES
from checkout.services.order_listing import OrderQuery
from checkout.web.errors import ValidationFailed
from checkout.web.paths import page_params

MAX_Q = 320  # the longest email address a mail system delivers, with room
_MAX_TS = 253402300799  # 9999-12-31T23:59:59Z


def _timestamp(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > _MAX_TS:
        raise ValidationFailed(f"{name} must be a Unix timestamp.", fields={name: "Unix seconds"})
    return datetime.fromtimestamp(int(raw), UTC)


def order_query(request: Request) -> OrderQuery:
    limit, after = page_params(request)
    status = request.query_params.get("status") or None
    if status is not None and status not in ORDER_STATUSES:
        raise ValidationFailed(
            "Unknown order status.",
            fields={"status": "one of " + ", ".join(sorted(ORDER_STATUSES))},
        )
    gte = _timestamp(request, "created[gte]")
    lt = _timestamp(request, "created[lt]")
    q = (request.query_params.get("q") or "").strip() or None
    if q is not None and len(q) > MAX_Q:
        # The value is not echoed: it may be an email address.
        raise ValidationFailed("q is too long.", fields={"q": f"at most {MAX_Q} characters"})
    return OrderQuery(
        status=status, created_gte=gte, created_lt=lt, q=q, limit=limit, starting_after=after
    )
