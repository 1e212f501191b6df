"""Hand-written JSON Schemas of the response objects, the security schemes, and the
parameters and headers both listeners share (OpenAPI 3.1, so plain JSON Schema 2020-12).

Objects list the fields API.md fixes and the ones our views add; none forbids extra
properties, since API.md lets fields be added but never renamed or dropped.
"""

from __future__ import annotations

from typing import Any

from checkout.domain.order import ORDER_STATUSES
from checkout.domain.payment import PaymentStatus

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def obj(required: list[str], **properties: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


def prefixed(prefix: str) -> Schema:
    return {"type": "string", "pattern": f"^{prefix}[A-Za-z0-9_-]+$"}


def list_of(item: str) -> Schema:
    """API.md's list envelope ``{data, has_more}`` around ``item``."""
    return obj(
        ["data", "has_more"],
        object={"const": "list"},
        data={"type": "array", "items": ref(item)},
        has_more={"type": "boolean"},
    )


STRING: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
TIMESTAMP: Schema = {"type": "integer", "description": "Unix seconds"}
CURRENCY: Schema = {"type": "string", "pattern": "^[A-Z]{3}$"}
ORDER_STATUS: Schema = {"type": "string", "enum": sorted(ORDER_STATUSES)}
ROLE: Schema = {"type": "string", "enum": ["viewer", "fulfillment", "support", "manager", "admin"]}

_LINE = obj(
    ["sku", "name", "quantity", "unit_price", "total"],
    sku=STRING,
    name=STRING,
    quantity=INT,
    unit_price=ref("Money"),
    total=ref("Money"),
)

_ORDER_FIELDS: dict[str, Schema] = {
    "id": prefixed("ord_"),
    "object": {"const": "order"},
    "checkout_id": STRING,
    "status": ORDER_STATUS,
    "currency": CURRENCY,
    "lines": {"type": "array", "items": ref("Line")},
    "subtotal": ref("Money"),
    "shipping": ref("Money"),
    "total": ref("Money"),
    "email": nullable(STRING),
    "shipping_address": nullable(ref("Address")),
    "billing_address": nullable(ref("Address")),
    "created": TIMESTAMP,
    "fulfilled": nullable(TIMESTAMP),
}
_ORDER_REQUIRED = ["id", "status", "currency", "lines", "subtotal", "shipping", "total", "created"]

_CHECKOUT = obj(
    ["id", "status", "currency", "lines", "subtotal", "shipping", "total", "email"],
    id=prefixed("chk_"),
    object={"const": "checkout"},
    client_secret={"type": "string", "description": "Only in the answer that created it."},
    status={"type": "string", "enum": ["open", "completed"]},
    currency=CURRENCY,
    lines={"type": "array", "items": ref("Line")},
    subtotal=ref("Money"),
    shipping=ref("Money"),
    total=ref("Money"),
    email=nullable(STRING),
    shipping_address=nullable(ref("Address")),
    billing_address=nullable(ref("Address")),
    order_id=nullable(prefixed("ord_")),
)

_CUSTOMER = obj(
    ["id", "email"],
    id=prefixed("cus_"),
    object={"const": "customer"},
    email=STRING,
    email_verified=BOOL,
    name=nullable(STRING),
    phone=nullable(STRING),
    addresses={"type": "array", "items": ref("Address")},
    created=TIMESTAMP,
)

_STAFF_MEMBER = obj(
    ["id", "email", "role", "active"],
    id=prefixed("stf_"),
    object={"const": "staff_member"},
    email=STRING,
    role=ROLE,
    active=BOOL,
    created=TIMESTAMP,
    updated=TIMESTAMP,
)

_WEBHOOK_ENDPOINT = obj(
    ["id", "url", "events", "status"],
    id=prefixed("whe_"),
    object={"const": "webhook_endpoint"},
    url=STRING,
    events={"type": "array", "items": STRING},
    status=STRING,
    created=TIMESTAMP,
    secret={"type": "string", "description": "Only in the answer that created it."},
)


def _with_required(base: str, *names: str) -> Schema:
    return {"allOf": [ref(base), {"required": list(names)}]}


SCHEMAS: dict[str, Schema] = {
    "Money": obj(["amount", "currency"], amount=INT, currency=CURRENCY),
    "Address": {
        **obj(
            [],
            name=STRING,
            line1=STRING,
            line2=STRING,
            city=STRING,
            region=STRING,
            postal_code=STRING,
            country={"type": "string", "pattern": "^[A-Z]{2}$"},
        ),
        "description": "API.md's Address; masked views leave out name, line1 and line2.",
    },
    "Line": _LINE,
    "Error": obj(
        ["error"],
        error=obj(
            ["code", "message", "request_id"],
            code={"type": "string", "pattern": "^[a-z_]+$"},
            message=STRING,
            request_id=STRING,
            fields={"type": "object", "additionalProperties": STRING},
            decline_code=nullable(STRING),
            payment_id=nullable(STRING),
        ),
    ),
    "Product": obj(
        ["id", "sku", "name", "price", "active"],
        id=STRING,
        object={"const": "product"},
        sku=STRING,
        name=STRING,
        price=ref("Money"),
        prices={"type": "array", "items": ref("Money")},
        active=BOOL,
    ),
    "ProductList": list_of("Product"),
    "Checkout": _CHECKOUT,
    "CheckoutCreated": _with_required("Checkout", "client_secret"),
    "Payment": obj(
        ["id", "status", "amount"],
        id=prefixed("pay_"),
        object={"const": "payment"},
        provider={"type": "string", "enum": ["stripe", "paypal"]},
        status={"type": "string", "enum": [s.value for s in PaymentStatus]},
        amount=ref("Money"),
        checkout_id=prefixed("chk_"),
        order_id=prefixed("ord_"),
        next_action=obj(
            ["type"],
            type={"type": "string", "enum": ["redirect", "provider_sdk"]},
            url=STRING,
            client_secret=STRING,
        ),
    ),
    "PayPalOrder": obj(
        ["paypal_order_id", "approve_url"], paypal_order_id=STRING, approve_url=STRING
    ),
    "Customer": _CUSTOMER,
    "EmailVerified": {
        "allOf": [
            ref("Customer"),
            obj(["claimed"], claimed=obj(["checkouts", "orders"], checkouts=INT, orders=INT)),
        ]
    },
    "Session": obj(
        ["token", "expires_at"],
        object={"const": "session"},
        token=STRING,
        expires_at=TIMESTAMP,
    ),
    "StaffSession": obj(
        ["token", "expires_at", "role"],
        object={"const": "staff_session"},
        token=STRING,
        expires_at=TIMESTAMP,
        role=ROLE,
    ),
    "Order": {
        **obj(_ORDER_REQUIRED, **_ORDER_FIELDS),
        "description": "An order as its customer sees it: their own fields in the clear.",
    },
    "OrderList": list_of("Order"),
    "PaymentSummary": obj(
        ["id", "status", "amount"],
        id=prefixed("pay_"),
        object={"const": "payment"},
        provider=STRING,
        status=STRING,
        amount=ref("Money"),
        amount_captured=ref("Money"),
        amount_refunded=ref("Money"),
    ),
    "Fulfillment": obj(
        ["id", "order_id", "carrier", "tracking_number"],
        id=STRING,
        object={"const": "fulfillment"},
        order_id=prefixed("ord_"),
        carrier=STRING,
        tracking_number=STRING,
        created=TIMESTAMP,
    ),
    "OrderDetail": {
        **obj(
            [*_ORDER_REQUIRED, "payments", "fulfillments"],
            **_ORDER_FIELDS,
            customer_id=nullable(prefixed("cus_")),
            payments={"type": "array", "items": ref("PaymentSummary")},
            fulfillments={"type": "array", "items": ref("Fulfillment")},
        ),
        "description": (
            "An order as staff and integrations see it, personal fields by disclosure: "
            "viewer: email masked (j***@example.com), addresses without name and street "
            "lines; fulfillment and an orders:read key: the full shipping address; "
            "support and above, and a key that also holds customers:read: every field."
        ),
    },
    "OrderDetailList": list_of("OrderDetail"),
    "Refund": obj(
        ["id"],
        id=prefixed("re_"),
        object={"const": "refund"},
        amount=ref("Money"),
        reason=STRING,
        status=STRING,
    ),
    "PaymentMethod": obj(
        ["id", "provider", "brand", "last4", "exp_month", "exp_year"],
        id=prefixed("pm_"),
        object={"const": "payment_method"},
        provider=STRING,
        brand=STRING,
        last4={"type": "string", "pattern": "^[0-9]{4}$"},
        exp_month=INT,
        exp_year=INT,
        created=TIMESTAMP,
    ),
    "PaymentMethodList": list_of("PaymentMethod"),
    "Export": obj(
        ["customer", "orders", "checkouts", "payments", "payment_methods", "sessions"],
        object={"const": "customer_export"},
        customer=ref("Customer"),
        verification=obj(
            ["email_verified"], email_verified=BOOL, email_verified_at=nullable(TIMESTAMP)
        ),
        consents={"type": "array"},
        orders={"type": "array", "items": ref("Order")},
        checkouts={"type": "array", "items": ref("Checkout")},
        payments={
            "type": "array",
            "items": obj(
                ["id", "status", "amount"],
                id=prefixed("pay_"),
                checkout_id=STRING,
                order_id=nullable(STRING),
                provider=STRING,
                status=STRING,
                amount=ref("Money"),
                amount_refunded=INT,
            ),
        },
        payment_methods={"type": "array", "items": ref("PaymentMethod")},
        sessions={
            "type": "array",
            "items": obj(
                ["id", "created", "expires"],
                id=STRING,
                created=TIMESTAMP,
                last_used=TIMESTAMP,
                expires=TIMESTAMP,
            ),
        },
    ),
    "Erasure": obj(
        ["customer_id", "status"],
        object={"const": "erasure"},
        customer_id=prefixed("cus_"),
        status={"const": "accepted"},
    ),
    "StaffMember": _STAFF_MEMBER,
    "StaffMemberCreated": {
        "allOf": [
            ref("StaffMember"),
            obj(["initial_password", "totp_uri"], initial_password=STRING, totp_uri=STRING),
        ]
    },
    "StaffMemberList": list_of("StaffMember"),
    "AuditEvent": obj(
        ["id", "created", "actor", "action", "target", "prev_hash", "hash"],
        id={"type": "string", "pattern": "^aud_[0-9]+$"},
        object={"const": "audit_event"},
        created=TIMESTAMP,
        occurred_at=STRING,
        actor=obj(["type"], type=STRING, id=nullable(STRING)),
        action=STRING,
        target=obj(["type", "id"], type=STRING, id=STRING),
        request_id=nullable(STRING),
        details={"type": "object"},
        prev_hash=STRING,
        hash=STRING,
    ),
    "AuditEventList": list_of("AuditEvent"),
    "WebhookEndpoint": _WEBHOOK_ENDPOINT,
    "WebhookEndpointCreated": _with_required("WebhookEndpoint", "secret"),
    "WebhookEndpointList": list_of("WebhookEndpoint"),
    "WebhookReceipt": obj(["received"], received=BOOL, duplicate=BOOL),
    "Health": obj(["status"], status=STRING, database=STRING),
    "OpenApiDocument": obj(["openapi", "paths"], openapi=STRING, paths={"type": "object"}),
}

SECURITY_SCHEMES: dict[str, Schema] = {
    "customerBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A customer session token from POST /v1/sessions.",
    },
    "staffBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A staff session token from POST /staff/v1/sessions; the scopes "
        "listed are the role permission the route needs.",
    },
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sk_…",
        "description": "A private-listener API key; the scopes listed are the one it needs.",
    },
    "checkoutSecret": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Checkout-Secret",
        "description": "The checkout's client_secret, from the answer that created it.",
    },
}

_ID = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_-]+$"}

PARAMETERS: dict[str, Schema] = {
    "limit": {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
    "starting_after": {
        "name": "starting_after",
        "in": "query",
        "description": "The id of the last object of the previous page.",
        "schema": {"type": "string", "maxLength": 64},
    },
    "currency": {
        "name": "currency",
        "in": "query",
        "description": "Price the products in this currency (those not sold in it are left out).",
        "schema": CURRENCY,
    },
    "status": {"name": "status", "in": "query", "schema": ORDER_STATUS},
    "q": {
        "name": "q",
        "in": "query",
        "description": "An exact order id or an exact customer email.",
        "schema": {"type": "string", "maxLength": 320},
    },
    "created_gte": {
        "name": "created[gte]",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": 253402300799},
    },
    "created_lt": {
        "name": "created[lt]",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": 253402300799},
    },
    "Idempotency-Key": {
        "name": "Idempotency-Key",
        "in": "header",
        "description": "Same key, actor and body within 24 h replays the first answer; "
        "another body is 409 idempotency_conflict.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    },
    "X-Checkout-Secret": {
        "name": "X-Checkout-Secret",
        "in": "header",
        "description": "The checkout's client_secret (or send the owner's customer token).",
        "schema": {"type": "string", "maxLength": 128, "pattern": "^[!-~]+$"},
    },
    "Stripe-Signature": {
        "name": "Stripe-Signature",
        "in": "header",
        "schema": {"type": "string", "pattern": "^[!-~]*$"},
    },
}

PATH_ID: Schema = _ID

HEADERS: dict[str, Schema] = {
    "X-Request-Id": {
        "description": "The request's id, also in every error body.",
        "schema": STRING,
    },
}


def components() -> dict[str, Any]:
    return {
        "schemas": SCHEMAS,
        "securitySchemes": SECURITY_SCHEMES,
        "parameters": PARAMETERS,
        "headers": HEADERS,
    }
