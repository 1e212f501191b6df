"""Path parameters as ids (anything longer than an id cannot name an object), and the
list parameters ``limit`` and ``starting_after``."""

from __future__ import annotations

from starlette.requests import Request

from checkout.web.errors import NotFound, ValidationFailed


def path_id(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if len(value) > 64:
        raise NotFound("No such object.")
    return value


def page_params(request: Request) -> tuple[int, str | None]:
    raw = request.query_params.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise ValidationFailed("limit must be 1 to 100.", fields={"limit": "1 to 100"})
    after = request.query_params.get("starting_after") or None
    if after is not None and len(after) > 64:
        raise ValidationFailed("starting_after is not an id.", fields={"starting_after": "id"})
    return int(raw), after
