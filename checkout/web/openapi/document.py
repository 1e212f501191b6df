"""The OpenAPI 3.1 document of one listener, built from its own route table and the
operation declarations (``operations.py``), and the ``GET /openapi.json`` route serving it.

The route table decides which operations are served and who may call them: the security
of a mounted operation comes from the policy its route declares (``checkout.web.policy``),
so the document cannot promise a credential the code does not check. A declared operation
that is not mounted keeps its declared policy (see ``STAFF_ORDER_OPS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkout.web.openapi.components import PATH_ID, components, ref
from checkout.web.openapi.operations import OPERATIONS, Op, Schema
from checkout.web.policy import Policy, declare, policy_of

VERSION = "1.0.0"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad request or signature",
    401: "unauthenticated",
    402: "payment_failed (decline_code set)",
    403: "forbidden",
    404: "not_found",
    409: "conflict or idempotency_conflict",
    413: "payload_too_large",
    422: "validation_error or card_data_forbidden",
    429: "rate_limited (Retry-After)",
    502: "provider_unavailable",
    503: "provider_unavailable or service_unavailable",
}


def served_operations(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], str | None]:
    """(method, path) of every operation a route table serves, with its declared policy."""
    found: dict[tuple[str, str], str | None] = {}
    for route in routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    found[(method, route.path)] = policy_of(route.endpoint)
    return found


def security_of(policy: str) -> list[dict[str, list[str]]]:
    if policy in (Policy.OPEN, Policy.PROVIDER_SIGNATURE):
        return []
    if policy == Policy.GUEST_OR_CUSTOMER:
        return [{}, {"customerBearer": []}]
    if policy == Policy.CHECKOUT_ACCESS:
        return [{"checkoutSecret": []}, {"customerBearer": []}]
    if policy == Policy.CUSTOMER:
        return [{"customerBearer": []}]
    if policy == Policy.STAFF:
        return [{"staffBearer": []}]
    if policy.startswith("staff:"):
        return [{"staffBearer": [policy.removeprefix("staff:")]}]
    if policy.startswith("scope:"):
        return [{"apiKey": [policy.removeprefix("scope:")]}]
    raise ValueError(f"no security scheme for policy {policy!r}")


def _body_schema(body: type[BaseModel] | Schema, schemas: dict[str, Schema]) -> Schema:
    if isinstance(body, dict):
        return body
    generated = body.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(generated.pop("$defs", {}))
    schemas[body.__name__] = generated
    return ref(body.__name__)


def _response(status: int, schema: str | None, media_type: str) -> Schema:
    out: Schema = {
        "description": _STATUS_TEXT.get(status, str(status)),
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
    }
    if schema is not None:
        out["content"] = {media_type: {"schema": ref(schema)}}
    elif status != 204:
        out["content"] = {media_type: {"schema": {"type": "string"}}}
    return out


def _operation(op: Op, policy: str, schemas: dict[str, Schema]) -> Schema:
    params: list[Schema] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_ID}
        for name in re.findall(r"\{([^}]+)\}", op.path)
    ]
    params += [{"$ref": f"#/components/parameters/{name}"} for name in op.query + op.headers]
    if op.idempotent:
        params.append({"$ref": "#/components/parameters/Idempotency-Key"})
    responses: Schema = {}
    for status, schema in op.ok.items():
        responses[str(status)] = _response(status, schema, op.media_type)
        if status in op.links:
            responses[str(status)]["links"] = op.links[status]
    # A key reused with another body, or while its first request runs: 409.
    errors = {*op.errors, 409} if op.idempotent else set(op.errors)
    for status in sorted(errors):
        responses[str(status)] = _response(status, "Error", "application/json")
    out: Schema = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": security_of(policy),
        "x-checkout-policy": policy,
        "parameters": params,
        "responses": responses,
    }
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": _body_schema(op.body, schemas)}},
        }
    return out


def build_document(listener: str, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The document of ``listener`` ("public" or "private") as that route table serves it."""
    served = served_operations(routes)
    parts = components()
    schemas = dict(parts["schemas"])
    paths: dict[str, Schema] = {}
    for op in OPERATIONS[listener]:
        policy = served.get(op.key) or op.policy
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, policy, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"headless-checkout {listener} listener",
            "version": VERSION,
            "description": "The HTTP contract of API.md. Errors are "
            '{"error": {"code", "message", "request_id", "fields"?, "decline_code"?}}.',
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "paths": paths,
        "components": {**parts, "schemas": schemas},
    }


def openapi_route(listener: str) -> Route:
    """``GET /openapi.json``: this listener's document, built once from its route table."""
    cached: list[bytes] = []

    async def openapi(request: Request) -> Response:
        if not cached:
            cached.append(orjson.dumps(build_document(listener, request.app.routes)))
        return Response(cached[0], media_type="application/json")

    return Route("/openapi.json", declare(Policy.OPEN)(openapi), methods=["GET"])
