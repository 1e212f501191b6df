"""PayPal adapter: Orders v2 through ``paypalrestsdk.Api``, off the event loop.

The SDK is synchronous and has no request timeout, so every call runs on a worker thread
through ``_TimedApi``, which adds one. Every mutating call carries ``PayPal-Request-Id``
derived from our own ids, and the retry policy re-sends it unchanged. The SDK is always
run in ``live`` mode with an explicit endpoint: outside live mode it logs request headers,
the bearer token among them, at DEBUG.

Saved payment methods (PayPal's vault, `/v3/vault/payment-tokens`) are not offered:
every `SavedMethods` call, and a charge that names a customer, raises
`ProviderUnsupported(feature="saved_methods")`, so callers show PayPal without "save".
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import anyio.to_thread
import paypalrestsdk
import requests
from paypalrestsdk import exceptions as pp

from providers.base import (
    ChargeRequest,
    ProviderDeclined,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUnsupported,
    SavedMethod,
)
from providers.paypal.webhook import CAPTURE_REF_PREFIX
from providers.paypal.wire import (
    approve_url,
    first_id,
    from_paypal_amount,
    payment_from_order,
    purchase_unit,
    to_paypal_amount,
)
from providers.retry import DEFAULT_RETRY, RetryPolicy, with_retries

_NO_VAULT = "PayPal saved payment methods are not supported."

# 422 issues that mean the buyer's money was refused, not that our request was wrong.
_DECLINES = frozenset({"INSTRUMENT_DECLINED", "TRANSACTION_REFUSED", "PAYER_CANNOT_PAY"})


class _TimedApi(paypalrestsdk.Api):  # type: ignore[misc]
    """The SDK's ``Api`` with a timeout on every HTTP call (it has none of its own)."""

    def __init__(self, timeout: float, **options: Any) -> None:
        super().__init__(**options)
        self._timeout = timeout

    def http_call(self, url: str, method: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return super().http_call(url, method, **kwargs)


class PayPalProvider:
    name = "paypal"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        api_base: str,
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._api = _TimedApi(
            timeout,
            mode="live",
            client_id=client_id,
            client_secret=client_secret,
            endpoint=api_base,
            token_endpoint=api_base,
        )
        self._retry = retry
        self._api_base = api_base

    def __repr__(self) -> str:
        return f"PayPalProvider(api_base={self._api_base!r})"

    async def aclose(self) -> None:
        return None

    async def create_order(
        self,
        *,
        amount: int,
        currency: str,
        reference: str,
        capture: bool,
        request_id: str,
        return_url: str | None = None,
        cancel_url: str | None = None,
    ) -> tuple[str, str]:
        """A PayPal order for ``reference`` (our checkout): its id and approval URL."""
        body: dict[str, Any] = {
            "intent": "CAPTURE" if capture else "AUTHORIZE",
            "purchase_units": [
                {
                    "reference_id": reference,
                    "custom_id": reference,
                    "amount": to_paypal_amount(amount, currency),
                }
            ],
        }
        if return_url or cancel_url:
            body["application_context"] = {
                k: v for k, v in (("return_url", return_url), ("cancel_url", cancel_url)) if v
            }
        order = await self._call("POST", "v2/checkout/orders", body, request_id)
        return str(order["id"]), approve_url(order)

    async def charge(self, request: ChargeRequest) -> ProviderPayment:
        if request.customer or request.save_method or request.off_session:
            raise ProviderUnsupported(_NO_VAULT, feature="saved_methods")
        order = await self._order(request.token)
        unit = purchase_unit(order)
        if request.reference and unit.get("reference_id") != request.reference:
            raise ProviderRejected(
                "This PayPal order belongs to another checkout.", param="payment_token"
            )
        if from_paypal_amount(unit["amount"]) != (request.amount, request.currency):
            raise ProviderRejected(
                "The PayPal order's amount or currency differs from the checkout's.",
                param="payment_token",
            )
        intent = order.get("intent")
        if intent != ("CAPTURE" if request.capture else "AUTHORIZE"):
            raise ProviderRejected(
                "The PayPal order was created for another capture mode.", param="payment_token"
            )
        if order.get("status") == "COMPLETED":
            # Captured or authorized already: by our earlier attempt, under the same key.
            return payment_from_order(order)
        action = "capture" if request.capture else "authorize"
        done = await self._call(
            "POST", f"v2/checkout/orders/{order['id']}/{action}", {}, request.idempotency_key
        )
        return payment_from_order(done)

    async def fetch(self, provider_ref: str) -> ProviderPayment:
        return payment_from_order(await self._order(provider_ref))

    async def order_id_for(self, reference: str) -> str | None:
        """Our reference (the order id) for one a webhook event gave: the same, unless it
        is ``capture:<id>`` (a refund names only its capture), which PayPal maps to its
        order; None if the capture names none."""
        if not reference.startswith(CAPTURE_REF_PREFIX):
            return reference
        capture_id = reference.removeprefix(CAPTURE_REF_PREFIX)
        if not capture_id.isalnum() or len(capture_id) > 64:
            raise ProviderRejected("Not a PayPal capture id.")
        capture = await self._call("GET", f"v2/payments/captures/{capture_id}", None, None)
        related = (capture.get("supplementary_data") or {}).get("related_ids") or {}
        order_id = related.get("order_id")
        return str(order_id) if order_id else None

    async def capture(
        self, provider_ref: str, amount: int | None, idempotency_key: str
    ) -> ProviderPayment:
        order = await self._order(provider_ref)
        auth = first_id(order, "authorizations")
        body: dict[str, Any] = {"final_capture": True}
        if amount is not None:
            currency = str(purchase_unit(order)["amount"]["currency_code"])
            body["amount"] = to_paypal_amount(amount, currency)
        await self._call(
            "POST", f"v2/payments/authorizations/{auth}/capture", body, idempotency_key
        )
        return await self.fetch(provider_ref)

    async def void(self, provider_ref: str, idempotency_key: str) -> ProviderPayment:
        order = await self._order(provider_ref)
        auth = first_id(order, "authorizations")
        await self._call("POST", f"v2/payments/authorizations/{auth}/void", {}, idempotency_key)
        return await self.fetch(provider_ref)

    async def refund(self, provider_ref: str, amount: int, idempotency_key: str) -> ProviderRefund:
        order = await self._order(provider_ref)
        capture = first_id(order, "captures")
        currency = str(purchase_unit(order)["amount"]["currency_code"])
        refund = await self._call(
            "POST",
            f"v2/payments/captures/{capture}/refund",
            {"amount": to_paypal_amount(amount, currency)},
            idempotency_key,
        )
        status = refund.get("status")
        value, cur = from_paypal_amount(refund.get("amount") or to_paypal_amount(amount, currency))
        return ProviderRefund(
            provider_ref=str(refund["id"]),
            status="succeeded"
            if status == "COMPLETED"
            else "failed"
            if status in ("FAILED", "CANCELLED")
            else "pending",
            amount=value,
            currency=cur,
        )

    # --- saved payment methods: not offered (see the module's docstring) --------------

    async def ensure_customer(self, reference: str) -> str:
        raise ProviderUnsupported(_NO_VAULT, feature="saved_methods")

    async def save(self, customer: str, token: str) -> SavedMethod:
        raise ProviderUnsupported(_NO_VAULT, feature="saved_methods")

    async def list_saved(self, customer: str) -> tuple[SavedMethod, ...]:
        raise ProviderUnsupported(_NO_VAULT, feature="saved_methods")

    async def detach(self, token: str) -> None:
        raise ProviderUnsupported(_NO_VAULT, feature="saved_methods")

    async def delete_customer(self, customer: str) -> None:
        raise ProviderUnsupported(_NO_VAULT, feature="saved_methods")

    async def _order(self, order_id: str) -> Any:
        if not order_id or not order_id.isalnum() or len(order_id) > 64:
            raise ProviderRejected("Not a PayPal order id.", param="payment_token")
        return await self._call("GET", f"v2/checkout/orders/{order_id}", None, None)

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None, request_id: str | None
    ) -> Any:
        once = partial(self._call_once, method, path, body, request_id)
        return await with_retries(
            lambda: anyio.to_thread.run_sync(once), self._retry, operation=f"{method} {path}"
        )

    def _call_once(
        self, method: str, path: str, body: dict[str, Any] | None, request_id: str | None
    ) -> Any:
        # The full object, not PayPal's default minimal answer: settling reads amounts and
        # the captures or authorizations from it without another round trip.
        headers = {"Prefer": "return=representation"}
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        try:
            if method == "GET":
                result = self._api.get(path, headers=headers)
            else:
                result = self._api.post(path, body or {}, headers=headers)
        except (requests.Timeout, requests.ConnectionError):
            raise ProviderUnavailable("PayPal could not be reached.") from None
        except pp.ServerError:
            raise ProviderUnavailable("PayPal answered with an error.") from None
        except pp.ResourceNotFound:
            raise ProviderRejected(
                "PayPal does not know this object.", param="payment_token"
            ) from None
        except pp.ResourceInvalid as exc:
            raise _unprocessable(exc) from None
        except pp.UnauthorizedAccess:
            # Our credentials are wrong: no retry helps, and the buyer cannot fix it.
            raise ProviderError("PayPal refused our credentials.") from None
        except pp.ClientError as exc:
            if getattr(exc.response, "status_code", None) == 429:
                raise ProviderUnavailable("PayPal is rate limiting us.") from None
            raise ProviderRejected("PayPal refused the request.") from None
        if isinstance(result, dict) and "error" in result:  # the SDK returns 400s as data
            raise ProviderRejected("PayPal refused the request as malformed.")
        return result


def _unprocessable(exc: Any) -> ProviderError:
    try:
        details = json.loads(exc.content).get("details") or []
        issue = str(details[0].get("issue")) if details else "UNPROCESSABLE_ENTITY"
    except (ValueError, AttributeError, TypeError):
        issue = "UNPROCESSABLE_ENTITY"
    if issue in _DECLINES:
        return ProviderDeclined("PayPal declined the payment.", decline_code=issue.lower())
    if issue == "ORDER_NOT_APPROVED":
        return ProviderRejected(
            "The buyer has not approved this PayPal order yet.", param="payment_token"
        )
    return ProviderRejected(f"PayPal refused the request ({issue}).")
