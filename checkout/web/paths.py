"""Path parameters as ids: anything longer than an id cannot name an object."""

from __future__ import annotations

from starlette.requests import Request

from checkout.web.errors import NotFound


def path_id(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if len(value) > 64:
        raise NotFound("No such object.")
    return value
