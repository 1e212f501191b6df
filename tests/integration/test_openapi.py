"""Each listener's ``GET /openapi.json``: valid OpenAPI 3.1, one operation per route the
listener serves and none it does not, API.md's fixed paths and statuses, and security
that is the policy each route declares."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import BaseRoute

from checkout.context import AppContext
from checkout.web.factory import create_private_app, create_public_app
from checkout.web.openapi import served_operations
from checkout.web.openapi.operations import OPERATIONS
from tests.integration.helpers import route_table

pytestmark = pytest.mark.anyio


# API.md's fixed operations, with the statuses it names for each (path parameters as {}).
API_MD: dict[str, dict[tuple[str, str], set[int]]] = {
    "public": {
        ("GET", "/v1/products"): {200},
        ("POST", "/v1/checkouts"): {201, 422},
        ("GET", "/v1/checkouts/{}"): {200, 404},
        ("PATCH", "/v1/checkouts/{}"): {200, 404},
        ("POST", "/v1/checkouts/{}/payments"): {201, 402, 404, 409, 422},
        ("POST", "/v1/checkouts/{}/paypal-orders"): {201},
        ("POST", "/v1/checkouts/{}/payments/{}/refresh"): {200},
        ("POST", "/v1/customers"): {201, 422},
        ("POST", "/v1/sessions"): {201, 401, 429},
        ("DELETE", "/v1/sessions/current"): {204},
        ("GET", "/v1/me"): {200, 401},
        ("PATCH", "/v1/me"): {200, 401},
        ("DELETE", "/v1/me"): {202, 401},
        ("GET", "/v1/me/orders"): {200, 401},
        ("GET", "/v1/me/orders/{}"): {200, 404},
        ("GET", "/v1/me/payment-methods"): {200},
        ("DELETE", "/v1/me/payment-methods/{}"): {204},
        ("GET", "/v1/me/export"): {200},
        ("POST", "/staff/v1/sessions"): {201, 401, 429},
        ("GET", "/staff/v1/orders"): {200, 401, 403},
        ("GET", "/staff/v1/orders/{}"): {200, 401, 403, 404},
        ("POST", "/staff/v1/orders/{}/capture"): {401, 403},
        ("POST", "/staff/v1/orders/{}/refunds"): {401, 403},
        ("POST", "/staff/v1/orders/{}/cancel"): {401, 403},
        ("POST", "/staff/v1/orders/{}/fulfillments"): {401, 403},
        ("GET", "/staff/v1/staff"): {200, 401, 403},
        ("POST", "/staff/v1/staff"): {401, 403},
        ("PATCH", "/staff/v1/staff/{}"): {401, 403},
        ("GET", "/staff/v1/audit-events"): {200, 401, 403},
        ("POST", "/webhooks/stripe"): {200, 400},
        ("POST", "/webhooks/paypal"): {200, 400},
    },
    "private": {
        ("GET", "/s2s/v1/orders"): {200, 401, 403},
        ("GET", "/s2s/v1/orders/{}"): {200, 401, 403, 404},
        ("POST", "/s2s/v1/orders/{}/fulfillments"): {401, 403},
        ("GET", "/s2s/v1/customers/{}"): {200, 401, 403},
        ("PUT", "/s2s/v1/products/{}"): {401, 403},
        ("POST", "/s2s/v1/webhook-endpoints"): {201, 401, 403},
        ("GET", "/healthz"): {200},
        ("GET", "/metrics"): {200},
    },
}
LIST_OPERATIONS = {
    ("GET", "/v1/products"),
    ("GET", "/v1/me/orders"),
    ("GET", "/staff/v1/orders"),
    ("GET", "/staff/v1/staff"),
    ("GET", "/staff/v1/audit-events"),
    ("GET", "/s2s/v1/orders"),
}
# Mutating POSTs that do not take Idempotency-Key: bodies with a password (the idempotency
# store keeps a fast hash of each body) and provider deliveries (deduplicated by event id).
NOT_IDEMPOTENT = {
    ("POST", "/v1/customers"),
    ("POST", "/v1/customers/verify-email"),
    ("POST", "/v1/sessions"),
    ("POST", "/v1/me/password"),
    ("POST", "/staff/v1/sessions"),
    ("POST", "/webhooks/stripe"),
    ("POST", "/webhooks/paypal"),
}


_routes = route_table


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


async def _documents(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> dict[str, tuple[dict[str, Any], list[BaseRoute]]]:
    docs = {}
    for listener, client, make in (
        ("public", api, create_public_app),
        ("private", private_api, create_private_app),
    ):
        r = await client.get("/openapi.json")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        docs[listener] = (r.json(), _routes(make(ctx)))
    return docs


async def test_each_listener_serves_a_valid_openapi_3_1_document(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    for listener, (doc, _) in (await _documents(ctx, api, private_api)).items():
        assert doc["openapi"].startswith("3.1"), listener
        validate(doc)  # the OpenAPI 3.1 meta-schema; raises on any violation
        assert listener in doc["info"]["title"]


async def test_every_served_route_is_documented_and_nothing_else(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    for listener, (doc, routes) in (await _documents(ctx, api, private_api)).items():
        served = set(served_operations(routes))
        documented = set(_operations(doc))
        assert served, listener
        missing = sorted(served - documented)
        assert not missing, (listener, "served but not documented", missing)
        phantom = sorted(documented - served)
        assert not phantom, (listener, "documented but not served", phantom)


async def test_documents_carry_api_md_fixed_operations_and_statuses(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    for listener, (doc, _) in (await _documents(ctx, api, private_api)).items():
        ops = {(m, _shape(p)): op for (m, p), op in _operations(doc).items()}
        for key, statuses in API_MD[listener].items():
            assert key in ops, (listener, key)
            documented = {int(s) for s in ops[key]["responses"]}
            assert statuses <= documented, (listener, key, statuses - documented)
        # Nothing of one listener's fixed paths is on the other one's document.
        other = "private" if listener == "public" else "public"
        assert not set(API_MD[other]) & set(ops), listener


async def test_lists_mutations_and_errors_follow_the_conventions(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    for _, (doc, _) in (await _documents(ctx, api, private_api)).items():
        for (method, path), op in _operations(doc).items():
            params = {p.get("$ref", "").rsplit("/", 1)[-1] for p in op["parameters"]}
            if (method, path) in LIST_OPERATIONS:
                assert {"limit", "starting_after"} <= params, path
                body = op["responses"]["200"]["content"]["application/json"]["schema"]
                assert body["$ref"].endswith("List"), path
            if method == "POST" and (method, path) not in NOT_IDEMPOTENT:
                assert "Idempotency-Key" in params, path
            for status, response in op["responses"].items():
                assert "X-Request-Id" in response["headers"]
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]
    assert {"code", "message", "request_id"} <= set(error["required"])
    assert {"fields", "decline_code"} <= set(error["properties"])


async def test_security_is_the_policy_each_route_declares(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    declared = {(name, op.key): op.policy for name, ops in OPERATIONS.items() for op in ops}
    for listener, (doc, routes) in (await _documents(ctx, api, private_api)).items():
        served = served_operations(routes)
        for key, op in _operations(doc).items():
            if key in served:
                assert op["x-checkout-policy"] == served[key], key
                assert declared[(listener, key)] == served[key], ("declaration drifted", key)
            schemes = {name for alt in op["security"] for name in alt}
            path = key[1]
            if path.startswith("/s2s/"):
                assert schemes == {"apiKey"}, key
            elif path.startswith("/staff/v1/") and path != "/staff/v1/sessions":
                assert schemes == {"staffBearer"}, key
            elif path.startswith("/v1/me") or path == "/v1/sessions/current":
                assert schemes == {"customerBearer"}, key
            elif path.startswith("/v1/checkouts/"):
                assert schemes == {"checkoutSecret", "customerBearer"}, key
    schemes = doc["components"]["securitySchemes"]
    assert schemes["checkoutSecret"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Checkout-Secret",
        "description": schemes["checkoutSecret"]["description"],
    }


async def test_request_bodies_are_the_models_the_endpoints_parse(
    ctx: AppContext, api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    doc = (await api.get("/openapi.json")).json()
    body = doc["paths"]["/v1/checkouts"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/CheckoutIn"}
    checkout_in = doc["components"]["schemas"]["CheckoutIn"]
    assert set(checkout_in["required"]) == {"currency", "lines"}
    assert checkout_in["additionalProperties"] is False
    assert "AddressIn" in doc["components"]["schemas"]
    private = (await private_api.get("/openapi.json")).json()
    put = private["paths"]["/s2s/v1/products/{sku}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ProductPutIn"
    )
    assert {"200", "201"} <= set(put["responses"])
