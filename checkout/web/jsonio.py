"""JSON in and out: strict parsing into models, errors as API.md's field paths."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from checkout.web.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)

# Deeply nested JSON is never a legitimate request here and is costly to walk.
MAX_DEPTH = 32


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


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


def _reject_constant(name: str) -> Any:
    # json accepts NaN/Infinity by default; they are not JSON and never money.
    raise ValueError(name)


async def read_json(request: Request, model: type[M]) -> M:
    raw = await request.body()
    if not raw.strip():
        raise ValidationFailed("The request body must be a JSON object.", fields={"$": "empty"})
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ValidationFailed(
            "The request body is not valid JSON.", fields={"$": "malformed JSON"}
        ) from None
    if not isinstance(data, dict):
        raise ValidationFailed(
            "The request body must be a JSON object.", fields={"$": "not an object"}
        )
    if _depth(data) > MAX_DEPTH:
        raise ValidationFailed("The request body is nested too deeply.", fields={"$": "too deep"})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors(include_input=False, include_url=False):
            fields.setdefault(_path(tuple(err["loc"])), err["msg"])
        raise ValidationFailed("The request is invalid.", fields=fields) from None
