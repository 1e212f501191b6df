"""JSON in and out: strict parsing into models, errors as API.md's field paths."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from checkout.web.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)

# Deeply nested JSON is never a legitimate request here and is costly to walk.
MAX_DEPTH = 32


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "$"


def _depth(value: Any) -> int:
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, d = stack.pop()
        depth = max(depth, d)
        if d > MAX_DEPTH:
            return d
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return depth


async def read_json(request: Request, model: type[M]) -> M:
    raw = await request.body()
    if not raw.strip():
        raise ValidationFailed("The request body must be a JSON object.", fields={"$": "empty"})
    try:
        # orjson refuses NaN/Infinity (not JSON, and never money), integers beyond 64 bits
        # and invalid UTF-8, all of which the standard library would let through.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationFailed(
            "The request body is not valid JSON.", fields={"$": "malformed JSON"}
        ) from None
    if not isinstance(data, dict):
        raise ValidationFailed(
            "The request body must be a JSON object.", fields={"$": "not an object"}
        )
    # Counting brackets is a C-level scan; only a body with that many pays for the walk.
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _depth(data) > MAX_DEPTH:
        raise ValidationFailed("The request body is nested too deeply.", fields={"$": "too deep"})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors(include_input=False, include_url=False):
            fields.setdefault(_path(tuple(err["loc"])), err["msg"])
        raise ValidationFailed("The request is invalid.", fields=fields) from None
