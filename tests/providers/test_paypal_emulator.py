"""The PayPal emulator, driven over real HTTP by the official `paypalrestsdk`.

The SDK is synchronous (requests), so tests call it directly while uvicorn serves
the emulator from a background thread. The buyer's approval is a plain form POST,
as a browser would send it.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import paypalrestsdk
import pytest
import requests
from paypalrestsdk import exceptions as pp
from starlette.applications import Starlette

from providers.emulator_faults import Fault, FaultInjector
from providers.paypal_emulator import PayPalState, create_app
from tests.conftest import serve_in_thread

CLIENT_ID = "emulator-client-id-0123456789"
CLIENT_SECRET = "emulator-client-secret-0123456789"
SHOP_RETURN = "https://shop.example/paypal/return?checkout=chk_1"
SHOP_CANCEL = "https://shop.example/paypal/cancel"
REPRESENTATION = {"Prefer": "return=representation"}
Json = dict[str, Any]


@dataclasses.dataclass
class Emulator:
    base_url: str
    app: Starlette

    @property
    def state(self) -> PayPalState:
        state: PayPalState = self.app.state.paypal
        return state

    @property
    def faults(self) -> FaultInjector:
        faults: FaultInjector = self.app.state.faults
        return faults

    def api(self, *, client_secret: str = CLIENT_SECRET) -> Any:
        # `endpoint` is the only override needed: `token_endpoint` defaults to it.
        return paypalrestsdk.Api(
            {
                "mode": "sandbox",
                "client_id": CLIENT_ID,
                "client_secret": client_secret,
                "endpoint": self.base_url,
            }
        )

    def create_order(
        self, api: Any, value: str, currency: str = "USD", intent: str = "CAPTURE"
    ) -> Json:
        order: Json = api.post(
            "v2/checkout/orders",
            {
                "intent": intent,
                "purchase_units": [
                    {
                        "reference_id": "chk_1",
                        "custom_id": "order-42",
                        "amount": {"currency_code": currency, "value": value},
                    }
                ],
                "application_context": {"return_url": SHOP_RETURN, "cancel_url": SHOP_CANCEL},
            },
            REPRESENTATION,
        )
        return order

    def buyer(self, order_id: str, action: str = "approve") -> httpx.Response:
        with httpx.Client(base_url=self.base_url) as browser:
            return browser.post(f"/checkoutnow/{order_id}/approve", data={"action": action})

    def approved_order(
        self, api: Any, value: str, currency: str = "USD", intent: str = "CAPTURE"
    ) -> str:
        order_id: str = self.create_order(api, value, currency, intent)["id"]
        assert self.buyer(order_id).status_code == 303
        return order_id


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with serve_in_thread(
        lambda base: create_app(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, public_base_url=base
        ),
        log_level="warning",
    ) as (base_url, app):
        yield Emulator(base_url, app)


def issue(error: pp.ConnectionError) -> str:
    body = json.loads(error.content)
    assert body["name"] in ("UNPROCESSABLE_ENTITY", "RESOURCE_NOT_FOUND", "INVALID_REQUEST")
    assert body["debug_id"] == error.response.headers["PayPal-Debug-Id"]
    assert body["links"][0]["rel"] == "information_link"
    detail: str = body["details"][0]["issue"]
    return detail


def rels(resource: Json) -> dict[str, tuple[str, str]]:
    return {link["rel"]: (link["href"], link["method"]) for link in resource["links"]}


# --- the buyer flow --------------------------------------------------------------------


def test_create_approve_capture_in_usd(emulator: Emulator) -> None:
    api = emulator.api()
    created = api.post(
        "v2/checkout/orders",
        {
            "intent": "CAPTURE",
            "purchase_units": [
                {"reference_id": "chk_1", "amount": {"currency_code": "USD", "value": "12.5"}}
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {"return_url": SHOP_RETURN, "cancel_url": SHOP_CANCEL}
                }
            },
        },
    )
    # PayPal's default is `Prefer: return=minimal`.
    assert set(created) == {"id", "status", "links"}
    order_id = created["id"]
    assert len(order_id) == 17 and order_id.isalnum() and order_id.upper() == order_id
    assert created["status"] == "CREATED"
    links = rels(created)
    assert links["approve"] == (f"{emulator.base_url}/checkoutnow?token={order_id}", "GET")
    assert links["capture"] == (
        f"{emulator.base_url}/v2/checkout/orders/{order_id}/capture",
        "POST",
    )
    assert links["self"][1] == "GET" and links["update"][1] == "PATCH"

    with httpx.Client() as browser:
        page = browser.get(links["approve"][0])
    assert page.status_code == 200
    assert "12.50 USD" in page.text and "Approve" in page.text and "<script" not in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "form-action 'self' https://shop.example" in csp
    assert page.headers["x-frame-options"] == "DENY"

    approved = emulator.buyer(order_id)
    assert approved.status_code == 303
    location = urlsplit(approved.headers["location"])
    assert location.netloc == "shop.example" and location.path == "/paypal/return"
    query = parse_qs(location.query)
    assert query["checkout"] == ["chk_1"] and query["token"] == [order_id]
    payer_id = query["PayerID"][0]

    order = api.get(f"v2/checkout/orders/{order_id}")
    assert order["status"] == "APPROVED"
    assert order["payer"]["payer_id"] == payer_id
    assert order["purchase_units"][0]["amount"] == {"currency_code": "USD", "value": "12.50"}
    assert order["purchase_units"][0]["reference_id"] == "chk_1"

    captured = api.post(f"v2/checkout/orders/{order_id}/capture", {})
    assert captured["status"] == "COMPLETED"
    capture = captured["purchase_units"][0]["payments"]["captures"][0]
    assert capture["status"] == "COMPLETED"
    assert capture["amount"] == {"currency_code": "USD", "value": "12.50"}
    assert capture["final_capture"] is True
    assert rels(capture)["refund"] == (
        f"{emulator.base_url}/v2/payments/captures/{capture['id']}/refund",
        "POST",
    )
    fetched = api.get(f"v2/payments/captures/{capture['id']}")
    assert fetched["supplementary_data"]["related_ids"] == {"order_id": order_id}
    assert api.get(f"v2/checkout/orders/{order_id}")["status"] == "COMPLETED"
    assert emulator.faults.calls() == {"orders.create": 1, "orders.capture": 1}


def test_zero_decimal_currency_has_no_decimals(emulator: Emulator) -> None:
    api = emulator.api()
    order_id = emulator.approved_order(api, "1500", "JPY")
    captured = api.post(f"v2/checkout/orders/{order_id}/capture", {}, REPRESENTATION)
    unit = captured["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "JPY", "value": "1500"}
    assert unit["payments"]["captures"][0]["amount"] == {"currency_code": "JPY", "value": "1500"}
    assert unit["custom_id"] == "order-42"  # echoed, nothing more

    with pytest.raises(pp.ResourceInvalid) as yen:
        emulator.create_order(api, "1500.50", "JPY")
    assert issue(yen.value) == "DECIMALS_NOT_SUPPORTED"
    with pytest.raises(pp.ResourceInvalid) as cents:
        emulator.create_order(api, "12.505", "USD")
    assert issue(cents.value) == "DECIMAL_PRECISION"
    with pytest.raises(pp.ResourceInvalid) as zero:
        emulator.create_order(api, "0.00", "EUR")
    assert issue(zero.value) == "CANNOT_BE_ZERO_OR_NEGATIVE"


def test_unsupported_currency_is_refused(emulator: Emulator) -> None:
    api = emulator.api()
    with pytest.raises(pp.ResourceInvalid) as refused:
        emulator.create_order(api, "10.000", "KWD")
    assert issue(refused.value) == "CURRENCY_NOT_SUPPORTED"
    assert emulator.state.orders == {}


def test_malformed_requests_come_back_as_the_sdk_returns_400s(emulator: Emulator) -> None:
    api = emulator.api()
    # paypalrestsdk returns a 400's body under "error" instead of raising.
    answer = api.post("v2/checkout/orders", {"purchase_units": []})
    assert answer["error"]["name"] == "INVALID_REQUEST"
    assert answer["error"]["details"][0]["issue"] == "MISSING_REQUIRED_PARAMETER"
    assert answer["error"]["details"][0]["field"] == "/intent"
    answer = emulator.create_order(api, "12,50")
    assert answer["error"]["details"][0]["issue"] == "INVALID_PARAMETER_SYNTAX"
    assert answer["error"]["details"][0]["field"] == "/purchase_units/0/amount/value"


def test_buyer_cancel_returns_to_the_shop_and_leaves_the_order_created(
    emulator: Emulator,
) -> None:
    api = emulator.api()
    order_id = emulator.create_order(api, "5.00")["id"]
    cancelled = emulator.buyer(order_id, "cancel")
    assert cancelled.status_code == 303
    assert cancelled.headers["location"] == f"{SHOP_CANCEL}?token={order_id}"
    assert api.get(f"v2/checkout/orders/{order_id}")["status"] == "CREATED"
    assert emulator.buyer(order_id, "steal").status_code == 400
    assert emulator.buyer("NOSUCHORDER000000").status_code == 404


def test_capture_needs_approval_and_happens_once(emulator: Emulator) -> None:
    api = emulator.api()
    order_id = emulator.create_order(api, "20.00")["id"]
    retry_key = {"PayPal-Request-Id": f"capture-{order_id}"}
    with pytest.raises(pp.ResourceInvalid) as early:
        api.post(f"v2/checkout/orders/{order_id}/capture", {}, retry_key)
    assert issue(early.value) == "ORDER_NOT_APPROVED"
    with pytest.raises(pp.ResourceInvalid) as wrong_intent:
        api.post(f"v2/checkout/orders/{order_id}/authorize", {})
    assert issue(wrong_intent.value) == "ACTION_DOES_NOT_MATCH_INTENT"

    assert emulator.buyer(order_id).status_code == 303
    # Refusals are not stored under a request id: the same id works once approved.
    captured = api.post(f"v2/checkout/orders/{order_id}/capture", {}, retry_key)
    assert captured["status"] == "COMPLETED"
    with pytest.raises(pp.ResourceInvalid) as twice:
        api.post(f"v2/checkout/orders/{order_id}/capture", {})
    assert issue(twice.value) == "ORDER_ALREADY_CAPTURED"
    assert emulator.faults.count("orders.capture") == 1
    # The approval page no longer offers a paid order.
    assert emulator.buyer(order_id).status_code == 409


# --- authorizations --------------------------------------------------------------------


def test_authorize_then_partial_captures_never_exceed_the_authorization(
    emulator: Emulator,
) -> None:
    api = emulator.api()
    order_id = emulator.approved_order(api, "100.00", intent="AUTHORIZE")
    authorized = api.post(f"v2/checkout/orders/{order_id}/authorize", {})
    assert authorized["status"] == "COMPLETED"
    authorization = authorized["purchase_units"][0]["payments"]["authorizations"][0]
    assert authorization["status"] == "CREATED"
    assert authorization["amount"] == {"currency_code": "USD", "value": "100.00"}
    assert authorization["expiration_time"].endswith("Z")
    auth_id = authorization["id"]
    path = f"v2/payments/authorizations/{auth_id}"

    first = api.post(f"{path}/capture", {"amount": {"currency_code": "USD", "value": "30.00"}})
    assert set(first) == {"id", "status", "links"} and first["status"] == "COMPLETED"
    assert api.get(path)["status"] == "PARTIALLY_CAPTURED"
    second = api.post(
        f"{path}/capture", {"amount": {"currency_code": "USD", "value": "50.00"}}, REPRESENTATION
    )
    assert second["amount"]["value"] == "50.00" and second["final_capture"] is False
    assert second["supplementary_data"]["related_ids"] == {
        "order_id": order_id,
        "authorization_id": auth_id,
    }
    with pytest.raises(pp.ResourceInvalid) as over:
        api.post(f"{path}/capture", {"amount": {"currency_code": "USD", "value": "20.01"}})
    assert issue(over.value) == "MAX_CAPTURE_AMOUNT_EXCEEDED"
    with pytest.raises(pp.ResourceInvalid) as voided_late:
        api.post(f"{path}/void", {})
    assert issue(voided_late.value) == "PREVIOUSLY_CAPTURED"

    # No amount: the rest of the authorization.
    last = api.post(f"{path}/capture", {"final_capture": True}, REPRESENTATION)
    assert last["amount"]["value"] == "20.00"
    assert api.get(path)["status"] == "CAPTURED"
    order = api.get(f"v2/checkout/orders/{order_id}")
    captures = order["purchase_units"][0]["payments"]["captures"]
    assert [c["amount"]["value"] for c in captures] == ["30.00", "50.00", "20.00"]
    assert emulator.faults.count("authorizations.capture") == 3


def test_void_releases_an_uncaptured_authorization(emulator: Emulator) -> None:
    api = emulator.api()
    order_id = emulator.approved_order(api, "40.00", "EUR", intent="AUTHORIZE")
    authorized = api.post(f"v2/checkout/orders/{order_id}/authorize", {})
    auth_id = authorized["purchase_units"][0]["payments"]["authorizations"][0]["id"]
    path = f"v2/payments/authorizations/{auth_id}"

    assert api.post(f"{path}/void", {}) == {}  # 204 No Content by default
    voided = api.get(path)
    assert voided["status"] == "VOIDED"
    assert set(rels(voided)) == {"self", "up"}
    with pytest.raises(pp.ResourceInvalid) as capture:
        api.post(f"{path}/capture", {})
    assert issue(capture.value) == "AUTHORIZATION_VOIDED"
    with pytest.raises(pp.ResourceInvalid) as again:
        api.post(f"{path}/void", {})
    assert issue(again.value) == "PREVIOUSLY_VOIDED"
    assert emulator.faults.count("authorizations.void") == 1


def test_authorizations_expire_after_29_days(emulator: Emulator) -> None:
    api = emulator.api()
    order_id = emulator.approved_order(api, "40.00", intent="AUTHORIZE")
    authorized = api.post(f"v2/checkout/orders/{order_id}/authorize", {})
    auth_id = authorized["purchase_units"][0]["payments"]["authorizations"][0]["id"]
    started = time.time()
    emulator.state.clock = lambda: started + 29 * 24 * 60 * 60 + 1
    # The SDK's cached token has expired too; it fetches a new one on the 401 by itself.
    assert api.get(f"v2/payments/authorizations/{auth_id}")["status"] == "EXPIRED"
    with pytest.raises(pp.ResourceInvalid) as late:
        api.post(f"v2/payments/authorizations/{auth_id}/capture", {})
    assert issue(late.value) == "AUTHORIZATION_EXPIRED"


# --- refunds ---------------------------------------------------------------------------


def test_refunds_never_exceed_the_capture(emulator: Emulator) -> None:
    api = emulator.api()
    order_id = emulator.approved_order(api, "25.00", "GBP")
    captured = api.post(f"v2/checkout/orders/{order_id}/capture", {})
    capture_id = captured["purchase_units"][0]["payments"]["captures"][0]["id"]
    path = f"v2/payments/captures/{capture_id}"

    first = api.post(f"{path}/refund", {"amount": {"currency_code": "GBP", "value": "10.00"}})
    assert set(first) == {"id", "status", "links"} and first["status"] == "COMPLETED"
    assert api.get(path)["status"] == "PARTIALLY_REFUNDED"
    refund = api.get(f"v2/payments/refunds/{first['id']}")
    assert refund["amount"] == {"currency_code": "GBP", "value": "10.00"}
    assert rels(refund)["up"][0].endswith(f"/v2/payments/captures/{capture_id}")

    with pytest.raises(pp.ResourceInvalid) as over:
        api.post(f"{path}/refund", {"amount": {"currency_code": "GBP", "value": "15.01"}})
    assert issue(over.value) == "REFUND_AMOUNT_EXCEEDED"
    rest = api.post(f"{path}/refund", {}, REPRESENTATION)  # no amount: what is left
    assert rest["amount"]["value"] == "15.00"
    assert rest["seller_payable_breakdown"]["total_refunded_amount"]["value"] == "25.00"
    assert api.get(path)["status"] == "REFUNDED"
    with pytest.raises(pp.ResourceInvalid) as done:
        api.post(f"{path}/refund", {"amount": {"currency_code": "GBP", "value": "0.01"}})
    assert issue(done.value) == "CAPTURE_FULLY_REFUNDED"
    order = api.get(f"v2/checkout/orders/{order_id}")
    assert len(order["purchase_units"][0]["payments"]["refunds"]) == 2
    assert emulator.faults.count("captures.refund") == 2


# --- PayPal-Request-Id -----------------------------------------------------------------


def test_request_id_replays_the_first_capture(emulator: Emulator) -> None:
    api = emulator.api()
    order_id = emulator.approved_order(api, "60.00")
    key = {"PayPal-Request-Id": f"capture-{order_id}"}
    first = api.post(f"v2/checkout/orders/{order_id}/capture", {}, key)
    again = api.post(f"v2/checkout/orders/{order_id}/capture", {}, key)
    # PayPal ignores the body of a replay: a different body still gets the first answer.
    other = api.post(f"v2/checkout/orders/{order_id}/capture", {"note": "different"}, key)
    capture_id = first["purchase_units"][0]["payments"]["captures"][0]["id"]
    assert again == first == other
    assert len(emulator.state.captures) == 1 and capture_id in emulator.state.captures
    assert emulator.faults.count("orders.capture") == 1

    # Same status on replay, too: 201 for a create.
    create_key = {"PayPal-Request-Id": "create-chk_9", "Authorization": f"Bearer {token(api)}"}
    with httpx.Client(base_url=emulator.base_url) as client:
        body = {
            "intent": "CAPTURE",
            "purchase_units": [{"amount": {"currency_code": "USD", "value": "1.00"}}],
        }
        made = client.post("/v2/checkout/orders", json=body, headers=create_key)
        remade = client.post("/v2/checkout/orders", json=body, headers=create_key)
    assert made.status_code == remade.status_code == 201
    assert made.content == remade.content
    assert emulator.faults.count("orders.create") == 2  # the approved order, then this one


def test_request_ids_are_forgotten_after_six_hours(emulator: Emulator) -> None:
    api = emulator.api()
    started = time.time()
    emulator.state.clock = lambda: started
    order_id = emulator.create_order(api, "1.00")["id"]
    key = {"PayPal-Request-Id": "refund-key"}
    emulator.buyer(order_id)
    captured = api.post(f"v2/checkout/orders/{order_id}/capture", {})
    capture_id = captured["purchase_units"][0]["payments"]["captures"][0]["id"]
    half = {"amount": {"currency_code": "USD", "value": "0.50"}}
    first = api.post(f"v2/payments/captures/{capture_id}/refund", half, key)
    assert api.post(f"v2/payments/captures/{capture_id}/refund", half, key) == first
    emulator.state.clock = lambda: started + 6 * 60 * 60 + 1
    later = api.post(f"v2/payments/captures/{capture_id}/refund", half, key)
    assert later["id"] != first["id"]
    assert emulator.faults.count("captures.refund") == 2


# --- authentication and unknown ids ----------------------------------------------------


def token(api: Any) -> str:
    access_token: str = api.get_access_token()
    return access_token


def test_token_endpoint_checks_client_credentials(emulator: Emulator) -> None:
    api = emulator.api()
    token_hash = api.get_token_hash()
    assert token_hash["token_type"] == "Bearer"
    assert token_hash["expires_in"] == 32400
    assert token_hash["app_id"].startswith("APP-")
    assert {"scope", "access_token", "nonce"} <= set(token_hash)
    # PayPal hands out the same live token again.
    assert emulator.api().get_access_token() == token_hash["access_token"]

    with pytest.raises(pp.UnauthorizedAccess) as refused:
        emulator.api(client_secret="wrong-secret").get("v2/checkout/orders/ANYTHING")
    assert json.loads(refused.value.content) == {
        "error": "invalid_client",
        "error_description": "Client Authentication failed",
    }


def test_api_calls_need_a_live_bearer_token(emulator: Emulator) -> None:
    with httpx.Client(base_url=emulator.base_url) as client:
        for headers in ({}, {"Authorization": "Bearer not-a-token-we-issued"}):
            answer = client.get("/v2/checkout/orders/ANYTHING", headers=headers)
            assert answer.status_code == 401
            assert answer.json()["name"] == "AUTHENTICATION_FAILURE"
        basic = client.get("/v2/checkout/orders/X", auth=(CLIENT_ID, CLIENT_SECRET))
        assert basic.status_code == 401
        assert client.get("/_emulator/calls").status_code == 401

    api = emulator.api()
    first = token(api)
    started = time.time()
    emulator.state.clock = lambda: started + 32400 + 1
    with httpx.Client(base_url=emulator.base_url) as client:
        expired = client.get("/_emulator/calls", headers={"Authorization": f"Bearer {first}"})
    assert expired.status_code == 401
    # The SDK drops its token on a 401 and retries once with a fresh one.
    with pytest.raises(pp.ResourceNotFound):
        api.get("v2/checkout/orders/NOSUCHORDER000000")
    assert token(api) != first


def test_unknown_ids_are_404_resource_not_found(emulator: Emulator) -> None:
    api = emulator.api()
    for path in (
        "v2/checkout/orders/NOSUCHORDER000000",
        "v2/payments/authorizations/NOSUCHAUTH0000000",
        "v2/payments/captures/NOSUCHCAPTURE0000",
        "v2/payments/refunds/NOSUCHREFUND00000",
    ):
        with pytest.raises(pp.ResourceNotFound) as missing:
            api.get(path)
        assert issue(missing.value) == "INVALID_RESOURCE_ID"
    with pytest.raises(pp.ResourceNotFound) as capture:
        api.post("v2/checkout/orders/NOSUCHORDER000000/capture", {})
    assert issue(capture.value) == "INVALID_RESOURCE_ID"
    with pytest.raises(pp.ResourceNotFound):
        api.get("v2/no/such/route")
    with pytest.raises(pp.MethodNotAllowed):
        api.delete("v2/checkout/orders/NOSUCHORDER000000")


# --- faults ----------------------------------------------------------------------------


def test_lost_capture_answer_is_recovered_by_retrying_with_the_same_request_id(
    emulator: Emulator,
) -> None:
    api = emulator.api()
    order_id = emulator.approved_order(api, "75.00")
    path = f"v2/checkout/orders/{order_id}/capture"
    key = {"PayPal-Request-Id": f"capture-{order_id}"}
    emulator.faults.add(Fault.DROP_AFTER_SUCCESS, method="POST", path_prefix="/" + path)
    with pytest.raises(requests.ConnectionError):
        api.post(path, {}, key)
    assert emulator.state.orders[order_id].status == "COMPLETED"  # it did happen

    retried = api.post(path, {}, key)
    capture_id = retried["purchase_units"][0]["payments"]["captures"][0]["id"]
    assert list(emulator.state.captures) == [capture_id]
    assert emulator.faults.count("orders.capture") == 1


def test_injected_errors_are_paypal_shaped_and_controllable_over_http(
    emulator: Emulator,
) -> None:
    api = emulator.api()
    auth = {"Authorization": f"Bearer {token(api)}"}
    with httpx.Client(base_url=emulator.base_url, headers=auth) as control:
        rule = {"fault": "error_500", "method": "POST", "path_prefix": "/v2/checkout/orders"}
        assert control.post("/_emulator/faults", json=rule).status_code == 201
        assert control.post("/_emulator/faults", json={**rule, "fault": "rate_limit"}).is_success
    with pytest.raises(pp.ServerError) as failed:
        emulator.create_order(api, "3.00")
    assert json.loads(failed.value.content)["name"] == "INTERNAL_SERVER_ERROR"
    assert failed.value.response.headers["PayPal-Debug-Id"]
    with pytest.raises(pp.ClientError) as limited:
        emulator.create_order(api, "3.00")
    assert limited.value.response.status_code == 429
    assert json.loads(limited.value.content)["name"] == "RATE_LIMIT_REACHED"
    assert emulator.create_order(api, "3.00")["status"] == "CREATED"
    with httpx.Client(base_url=emulator.base_url, headers=auth) as control:
        assert control.get("/_emulator/calls").json() == {"calls": {"orders.create": 1}}


# --- the runner ------------------------------------------------------------------------


def test_module_runner_prints_its_ready_line() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "providers.paypal_emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("paypal emulator ready on http://127.0.0.1:")
        base = line.rsplit(" ", 1)[1].strip()
        answer = httpx.post(
            f"{base}/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("emulator-dev-client", "emulator-dev-secret"),
        )
        assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
