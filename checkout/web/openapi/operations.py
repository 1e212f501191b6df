"""What each operation of each listener takes and answers, declared beside nothing else.

One :class:`Op` per method and path. The route table says which operations a listener
serves and who may call them (its declared policy); this table adds what the route table
cannot know: the request body (the pydantic model the endpoint parses, where there is
one), the parameters, and every status API.md lets the operation answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from checkout.web import schemas as body

Schema = dict[str, Any]

# Statuses any operation may answer: the card-data guard's 422 (it scans query strings
# and header values too), and 503 when the database does not answer.
ANY = (422, 503)
WITH_BODY = (413, 422)
PAYMENT = (402, 409, 502, 503)


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    policy: str  # what the route declares (checkout.web.policy); checked against it by a test
    ok: dict[int, str | None]  # success status -> component schema name (None: no body)
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | Schema | None = None
    body_required: bool = True
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    idempotent: bool = False  # accepts Idempotency-Key
    links: dict[int, dict[str, Schema]] = field(default_factory=dict)
    media_type: str = "application/json"

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)


OPENAPI_DOC = Op(
    "GET",
    "/openapi.json",
    "getOpenApi",
    "This listener's OpenAPI 3.1 document",
    "meta",
    "open",
    {200: "OpenApiDocument"},
)

_LIST = ("limit", "starting_after")
_ORDER_FILTERS = ("status", "q", "created_gte", "created_lt", *_LIST)

# Staff order routes (API.md, "Staff"). Declared here ahead of their endpoints, which are
# being written apart; tests/integration/test_openapi.py tolerates them unmounted until then.
STAFF_ORDER_OPS = (
    Op(
        "GET",
        "/staff/v1/orders",
        "listStaffOrders",
        "List orders",
        "staff",
        "staff:orders:read",
        {200: "OrderDetailList"},
        (401, 403, *ANY),
        query=_ORDER_FILTERS,
    ),
    Op(
        "GET",
        "/staff/v1/orders/{order_id}",
        "getStaffOrder",
        "An order",
        "staff",
        "staff:orders:read",
        {200: "OrderDetail"},
        (401, 403, 404, *ANY),
    ),
    Op(
        "POST",
        "/staff/v1/orders/{order_id}/capture",
        "captureOrder",
        "Capture an authorized order's payment (all of it, or amount)",
        "staff",
        "staff:orders:capture",
        {200: "OrderDetail"},
        (401, 403, 404, 409, *WITH_BODY, *PAYMENT),
        body={
            "type": "object",
            "additionalProperties": False,
            "properties": {"amount": {"type": "integer", "minimum": 1}},
        },
        body_required=False,
        idempotent=True,
    ),
    Op(
        "POST",
        "/staff/v1/orders/{order_id}/refunds",
        "refundOrder",
        "Refund an amount (minor units) of a paid order",
        "staff",
        "staff:orders:refund_limited",
        {201: "Refund"},
        (401, 403, 404, 409, *WITH_BODY, *PAYMENT),
        body={
            "type": "object",
            "additionalProperties": False,
            "required": ["amount", "reason"],
            "properties": {
                "amount": {"type": "integer", "minimum": 1},
                "reason": {"type": "string", "minLength": 1, "maxLength": 500},
            },
        },
        idempotent=True,
    ),
    Op(
        "POST",
        "/staff/v1/orders/{order_id}/cancel",
        "cancelOrder",
        "Cancel an order",
        "staff",
        "staff:orders:cancel_unpaid",
        {200: "OrderDetail"},
        (401, 403, 404, 409, 413, *PAYMENT, *ANY),
        idempotent=True,
    ),
    Op(
        "POST",
        "/staff/v1/orders/{order_id}/fulfillments",
        "createStaffFulfillment",
        "Record a shipment",
        "staff",
        "staff:orders:fulfill",
        {201: "Fulfillment"},
        (401, 403, 404, 409, *WITH_BODY, 503),
        body=body.FulfillmentIn,
        idempotent=True,
    ),
)

_CHECKOUT_LINKS: dict[str, Schema] = {
    "getCheckout": {
        "operationId": "getCheckout",
        "parameters": {
            "path.checkout_id": "$response.body#/id",
            "header.X-Checkout-Secret": "$response.body#/client_secret",
        },
    },
    "updateCheckout": {
        "operationId": "updateCheckout",
        "parameters": {
            "path.checkout_id": "$response.body#/id",
            "header.X-Checkout-Secret": "$response.body#/client_secret",
        },
    },
}

PUBLIC_OPS = (
    OPENAPI_DOC,
    Op(
        "POST",
        "/webhooks/stripe",
        "receiveStripeWebhook",
        "A Stripe event, verified on its raw bytes (Stripe-Signature)",
        "webhooks",
        "provider_signature",
        {200: "WebhookReceipt"},
        (400, 413, 429, *ANY),
        body={"type": "object"},
        headers=("Stripe-Signature",),
    ),
    Op(
        "POST",
        "/webhooks/paypal",
        "receivePayPalWebhook",
        "A PayPal event, verified with its PAYPAL-TRANSMISSION-* headers",
        "webhooks",
        "provider_signature",
        {200: "WebhookReceipt"},
        (400, 413, 429, *ANY),
        body={"type": "object"},
    ),
    Op(
        "GET",
        "/v1/products",
        "listProducts",
        "The catalog",
        "catalog",
        "open",
        {200: "ProductList"},
        ANY,
        query=("currency", *_LIST),
    ),
    Op(
        "POST",
        "/v1/checkouts",
        "createCheckout",
        "Open a checkout (guest or customer)",
        "checkout",
        "guest_or_customer",
        {201: "CheckoutCreated"},
        (401, 409, 429, *WITH_BODY, 503),
        body=body.CheckoutIn,
        idempotent=True,
        links={201: _CHECKOUT_LINKS},
    ),
    Op(
        "GET",
        "/v1/checkouts/{checkout_id}",
        "getCheckout",
        "A checkout",
        "checkout",
        "checkout_access",
        {200: "Checkout"},
        (401, 404, *ANY),
        headers=("X-Checkout-Secret",),
    ),
    Op(
        "PATCH",
        "/v1/checkouts/{checkout_id}",
        "updateCheckout",
        "Change a checkout (the fields of create)",
        "checkout",
        "checkout_access",
        {200: "Checkout"},
        (401, 404, 409, *WITH_BODY, 503),
        body=body.CheckoutPatchIn,
        headers=("X-Checkout-Secret",),
        links={
            200: {
                "getCheckout": {
                    "operationId": "getCheckout",
                    "parameters": {
                        "path.checkout_id": "$response.body#/id",
                        "header.X-Checkout-Secret": "$request.header.X-Checkout-Secret",
                    },
                }
            }
        },
    ),
    Op(
        "POST",
        "/v1/checkouts/{checkout_id}/payments",
        "createPayment",
        "Pay a checkout with a provider token or a saved method",
        "checkout",
        "checkout_access",
        {201: "Payment"},
        (401, 404, 429, *WITH_BODY, *PAYMENT),
        body=body.PaymentIn,
        headers=("X-Checkout-Secret",),
        idempotent=True,
    ),
    Op(
        "POST",
        "/v1/checkouts/{checkout_id}/paypal-orders",
        "createPayPalOrder",
        "Create the PayPal order for a checkout's total",
        "checkout",
        "checkout_access",
        {201: "PayPalOrder"},
        (401, 404, 409, *WITH_BODY, 502, 503),
        body=body.PayPalOrderIn,
        body_required=False,
        headers=("X-Checkout-Secret",),
        idempotent=True,
    ),
    Op(
        "POST",
        "/v1/checkouts/{checkout_id}/payments/{payment_id}/refresh",
        "refreshPayment",
        "Fetch a payment from its provider and apply what it says",
        "checkout",
        "checkout_access",
        {200: "Payment"},
        (401, 404, 409, 413, 502, *ANY),
        headers=("X-Checkout-Secret",),
        idempotent=True,
    ),
    Op(
        "POST",
        "/v1/customers",
        "registerCustomer",
        "Register a customer account",
        "customers",
        "open",
        {201: "Customer"},
        (409, 429, *WITH_BODY, 503),
        body=body.CustomerIn,
        links={
            201: {
                "signIn": {
                    "operationId": "signIn",
                    "requestBody": {
                        "email": "$request.body#/email",
                        "password": "$request.body#/password",
                    },
                }
            }
        },
    ),
    Op(
        "POST",
        "/v1/customers/verify-email",
        "verifyEmail",
        "Verify an email address",
        "customers",
        "open",
        {200: "EmailVerified"},
        (404, 409, 429, *WITH_BODY, 503),
        body=body.VerifyEmailIn,
    ),
    Op(
        "POST",
        "/v1/sessions",
        "signIn",
        "Sign in (a customer session)",
        "customers",
        "open",
        {201: "Session"},
        (401, 429, *WITH_BODY, 503),
        body=body.SessionIn,
        links={
            201: {
                "getMe": {
                    "operationId": "getMe",
                    "parameters": {"header.Authorization": "Bearer {$response.body#/token}"},
                }
            }
        },
    ),
    Op(
        "DELETE",
        "/v1/sessions/current",
        "signOut",
        "End this session",
        "customers",
        "customer",
        {204: None},
        (401, *ANY),
    ),
    Op(
        "GET",
        "/v1/me",
        "getMe",
        "The signed-in customer",
        "customers",
        "customer",
        {200: "Customer"},
        (401, 404, *ANY),
    ),
    Op(
        "PATCH",
        "/v1/me",
        "updateMe",
        "Change name, phone or addresses",
        "customers",
        "customer",
        {200: "Customer"},
        (401, 404, *WITH_BODY, 503),
        body=body.ProfilePatchIn,
    ),
    Op(
        "DELETE",
        "/v1/me",
        "eraseMe",
        "Erase the customer's personal data",
        "customers",
        "customer",
        {202: "Erasure"},
        (401, 404, *ANY),
    ),
    Op(
        "POST",
        "/v1/me/password",
        "changePassword",
        "Change the password",
        "customers",
        "customer",
        {204: None},
        (401, 429, *WITH_BODY, 503),
        body=body.PasswordChangeIn,
    ),
    Op(
        "GET",
        "/v1/me/orders",
        "listMyOrders",
        "The customer's orders",
        "customers",
        "customer",
        {200: "OrderList"},
        (401, *ANY),
        query=_LIST,
    ),
    Op(
        "GET",
        "/v1/me/orders/{order_id}",
        "getMyOrder",
        "One of the customer's orders",
        "customers",
        "customer",
        {200: "Order"},
        (401, 404, *ANY),
    ),
    Op(
        "GET",
        "/v1/me/payment-methods",
        "listMyPaymentMethods",
        "Saved payment methods",
        "customers",
        "customer",
        {200: "PaymentMethodList"},
        (401, *ANY),
    ),
    Op(
        "DELETE",
        "/v1/me/payment-methods/{method_id}",
        "deleteMyPaymentMethod",
        "Delete a saved method (detached at the provider)",
        "customers",
        "customer",
        {204: None},
        (401, 404, 502, *ANY),
    ),
    Op(
        "GET",
        "/v1/me/export",
        "exportMe",
        "Everything held about the customer",
        "customers",
        "customer",
        {200: "Export"},
        (401, 404, *ANY),
    ),
    Op(
        "POST",
        "/staff/v1/sessions",
        "staffSignIn",
        "Sign in with password and TOTP",
        "staff",
        "open",
        {201: "StaffSession"},
        (401, 429, *WITH_BODY, 503),
        body=body.StaffSessionIn,
    ),
    Op(
        "DELETE",
        "/staff/v1/sessions/current",
        "staffSignOut",
        "End this staff session",
        "staff",
        "staff",
        {204: None},
        (401, *ANY),
    ),
    Op(
        "GET",
        "/staff/v1/staff",
        "listStaff",
        "Staff members",
        "staff",
        "staff:staff:manage",
        {200: "StaffMemberList"},
        (401, 403, *ANY),
        query=_LIST,
    ),
    Op(
        "POST",
        "/staff/v1/staff",
        "createStaffMember",
        "Enrol a member (initial password and TOTP URI, shown once)",
        "staff",
        "staff:staff:manage",
        {201: "StaffMemberCreated"},
        (401, 403, 409, *WITH_BODY, 503),
        body=body.StaffMemberIn,
        idempotent=True,
    ),
    Op(
        "PATCH",
        "/staff/v1/staff/{member_id}",
        "updateStaffMember",
        "Change a member's role or deactivate them",
        "staff",
        "staff:staff:manage",
        {200: "StaffMember"},
        (401, 403, 404, 409, *WITH_BODY, 503),
        body=body.StaffMemberPatchIn,
    ),
    Op(
        "GET",
        "/staff/v1/audit-events",
        "listAuditEvents",
        "The audit log",
        "staff",
        "staff:audit:read",
        {200: "AuditEventList"},
        (401, 403, *ANY),
        query=_LIST,
    ),
    *STAFF_ORDER_OPS,
)

PRIVATE_OPS = (
    OPENAPI_DOC,
    Op(
        "GET",
        "/healthz",
        "healthz",
        "Liveness and database reachability",
        "operations",
        "open",
        {200: "Health"},
        ANY,
    ),
    Op(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus metrics",
        "operations",
        "open",
        {200: None},
        ANY,
        media_type="text/plain",
    ),
    Op(
        "GET",
        "/s2s/v1/orders",
        "listOrders",
        "List orders",
        "orders",
        "scope:orders:read",
        {200: "OrderDetailList"},
        (401, 403, *ANY),
        query=_ORDER_FILTERS,
    ),
    Op(
        "GET",
        "/s2s/v1/orders/{order_id}",
        "getOrder",
        "An order",
        "orders",
        "scope:orders:read",
        {200: "OrderDetail"},
        (401, 403, 404, *ANY),
    ),
    Op(
        "POST",
        "/s2s/v1/orders/{order_id}/fulfillments",
        "createFulfillment",
        "Record a shipment",
        "orders",
        "scope:orders:fulfill",
        {201: "Fulfillment"},
        (401, 403, 404, 409, *WITH_BODY, 503),
        body=body.FulfillmentIn,
        idempotent=True,
    ),
    Op(
        "GET",
        "/s2s/v1/customers/{customer_id}",
        "getCustomer",
        "A customer record",
        "customers",
        "scope:customers:read",
        {200: "Customer"},
        (401, 403, 404, *ANY),
    ),
    Op(
        "PUT",
        "/s2s/v1/products/{sku}",
        "putProduct",
        "Create or replace a product",
        "catalog",
        "scope:catalog:write",
        {200: "Product", 201: "Product"},
        (401, 403, 409, *WITH_BODY, 503),
        body=body.ProductPutIn,
        idempotent=True,
    ),
    Op(
        "POST",
        "/s2s/v1/webhook-endpoints",
        "createWebhookEndpoint",
        "Subscribe a URL to order events (its signing secret, shown once)",
        "webhooks",
        "scope:webhooks:manage",
        {201: "WebhookEndpointCreated"},
        (401, 403, *WITH_BODY, 503),
        body=body.WebhookEndpointIn,
        idempotent=True,
    ),
    Op(
        "GET",
        "/s2s/v1/webhook-endpoints",
        "listWebhookEndpoints",
        "Webhook endpoints",
        "webhooks",
        "scope:webhooks:manage",
        {200: "WebhookEndpointList"},
        (401, 403, *ANY),
    ),
    Op(
        "DELETE",
        "/s2s/v1/webhook-endpoints/{endpoint_id}",
        "disableWebhookEndpoint",
        "Disable a webhook endpoint",
        "webhooks",
        "scope:webhooks:manage",
        {200: "WebhookEndpoint"},
        (401, 403, 404, *ANY),
    ),
)

OPERATIONS = {"public": PUBLIC_OPS, "private": PRIVATE_OPS}
