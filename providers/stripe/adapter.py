"""Stripe adapter: PaymentIntents via the official SDK, asynchronously.

Every mutating call carries the idempotency key the caller derived from our own ids, so
the SDK's own retries and ours reach Stripe as one request. Timeouts are bounded; the
SDK retries connection errors, 409s and 5xx on its own with that same key.

The SDK's aiohttp transport is used rather than its httpx one: measured against the
emulator it spends about 1.1 ms of CPU per call where httpx spends 2.8 ms, and a payment
makes at least one call on the request path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import stripe

from providers.base import (
    ChargeRequest,
    EventBatch,
    ListedEvent,
    ProviderDeclined,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    SavedMethod,
)
from providers.retry import DEFAULT_RETRY, RetryPolicy, with_retries
from providers.stripe.webhook import listed_event
from providers.stripe.wire import (
    EVENT_PAGE_SIZE,
    PAYMENT_EVENT_TYPES,
    payment_from_intent,
    refund_from_stripe,
    saved_method,
    to_stripe_amount,
)

_SAVED_PAGE_SIZE = 100  # Stripe's largest page
_SAVED_MAX_PAGES = 10


class StripeProvider:
    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        api_base: str,
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._http = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=timeout))
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            http_client=self._http,
            # Retries are ours (providers/retry.py): one policy for every provider, and
            # 429 is retried too, which the SDK leaves to a header Stripe may not send.
            max_network_retries=0,
        )
        self._retry = retry
        self._api_base = api_base

    def __repr__(self) -> str:
        return f"StripeProvider(api_base={self._api_base!r})"

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def charge(self, request: ChargeRequest) -> ProviderPayment:
        amount, currency = to_stripe_amount(request.amount, request.currency)
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "payment_method": request.token,
            "confirm": True,
            "capture_method": "automatic" if request.capture else "manual",
            "metadata": {"payment_id": request.payment_id},
            "payment_method_types": ["card"],
        }
        if request.return_url:
            params["return_url"] = request.return_url
        if request.description:
            params["description"] = request.description
        if request.customer:
            params["customer"] = request.customer
            # The saved method comes back expanded, so the caller learns brand and last4.
            params["expand"] = ["payment_method"]
            if request.save_method:
                params["setup_future_usage"] = "off_session"
        elif request.save_method:
            raise ProviderRejected("Saving a payment method needs a customer.", param="customer")
        if request.off_session:
            params["off_session"] = True
        pi = await self._call(
            self._client.v1.payment_intents.create_async,
            params,
            {"idempotency_key": request.idempotency_key},
        )
        return payment_from_intent(pi)

    async def fetch(self, provider_ref: str) -> ProviderPayment:
        pi = await self._call(self._retrieve_intent, provider_ref)
        return payment_from_intent(pi)

    async def _retrieve_intent(self, provider_ref: str) -> dict[str, Any]:
        # The SDK's raw request (same auth, headers and error types) read as a plain dict:
        # building StripeObjects and turning them back into a dict was half the CPU of a
        # lookup, and the webhook worker makes one for every event it handles.
        response = await self._client.raw_request_async(
            "get",
            f"/v1/payment_intents/{quote(provider_ref, safe='')}",
            expand=["latest_charge", "payment_method"],
        )
        data: dict[str, Any] = response.data
        return data

    async def capture(
        self, provider_ref: str, amount: int | None, idempotency_key: str
    ) -> ProviderPayment:
        params: dict[str, Any] = {} if amount is None else {"amount_to_capture": amount}
        pi = await self._call(
            self._client.v1.payment_intents.capture_async,
            provider_ref,
            params,
            {"idempotency_key": idempotency_key},
        )
        return payment_from_intent(pi)

    async def void(self, provider_ref: str, idempotency_key: str) -> ProviderPayment:
        pi = await self._call(
            self._client.v1.payment_intents.cancel_async,
            provider_ref,
            {},
            {"idempotency_key": idempotency_key},
        )
        return payment_from_intent(pi)

    async def refund(self, provider_ref: str, amount: int, idempotency_key: str) -> ProviderRefund:
        refund = await self._call(
            self._client.v1.refunds.create_async,
            {"payment_intent": provider_ref, "amount": amount},
            {"idempotency_key": idempotency_key},
        )
        return refund_from_stripe(refund)

    # --- saved payment methods (providers.base.SavedMethods) ----------------------------

    async def ensure_customer(self, reference: str) -> str:
        # Our id is all Stripe learns: no email or name, so erasing the customer on our
        # side leaves nothing personal at Stripe to chase.
        customer = await self._call(
            self._client.v1.customers.create_async,
            {"metadata": {"reference": reference}},
            {"idempotency_key": f"customer:{reference}"},
        )
        return str(customer["id"])

    async def save(self, customer: str, token: str) -> SavedMethod:
        # No idempotency key of ours: one derived from (customer, token) would replay an
        # old success after the method was detached. Attaching is naturally idempotent
        # instead: Stripe refuses a second attach, and a method found already the
        # customer's (our lost first attempt, or saved by an earlier payment) is success.
        try:
            pm = await self._call(
                self._client.v1.payment_methods.attach_async, token, {"customer": customer}
            )
        except ProviderRejected:
            pm = await self._call(self._client.v1.payment_methods.retrieve_async, token)
            if pm.get("customer") != customer:
                raise
        return saved_method(pm)

    async def list_saved(self, customer: str) -> tuple[SavedMethod, ...]:
        saved: list[SavedMethod] = []
        params: dict[str, Any] = {"customer": customer, "type": "card", "limit": _SAVED_PAGE_SIZE}
        for _ in range(_SAVED_MAX_PAGES):
            page = await self._call(self._client.v1.payment_methods.list_async, params)
            data = page.get("data") or []
            saved.extend(saved_method(pm) for pm in data)
            if not data or not page.get("has_more"):
                break
            params = {**params, "starting_after": str(data[-1]["id"])}
        return tuple(saved)

    async def detach(self, token: str) -> None:
        try:
            await self._call(
                self._client.v1.payment_methods.detach_async,
                token,
                {},
                {"idempotency_key": f"detach:{token}"},
            )
        except ProviderRejected:
            # Stripe refuses to detach what is not attached; if that is why, it is done.
            pm = await self._call(self._client.v1.payment_methods.retrieve_async, token)
            if pm.get("customer") is not None:
                raise

    async def delete_customer(self, customer: str) -> None:
        try:
            await self._call(self._client.v1.customers.delete_async, customer)
        except ProviderRejected:
            # Deleting twice is a 404 at Stripe; the deleted stub says it is done.
            stub = await self._call(self._client.v1.customers.retrieve_async, customer)
            if not stub.get("deleted"):
                raise

    async def events_since(
        self, created_gte: int, *, starting_after: str | None = None, max_pages: int = 10
    ) -> EventBatch:
        """Payment events created at or after `created_gte`, newest first, paging on with
        `starting_after` (from the given id, to resume an earlier listing) up to
        `max_pages` pages."""
        listed: list[ListedEvent] = []
        cursor = starting_after
        for _ in range(max_pages):
            params: dict[str, Any] = {
                "created": {"gte": created_gte},
                "limit": EVENT_PAGE_SIZE,
                "types": list(PAYMENT_EVENT_TYPES),
            }
            if cursor is not None:
                params["starting_after"] = cursor
            page = await self._call(self._client.v1.events.list_async, params)
            data = page.get("data") or []
            listed.extend(e for e in map(listed_event, data) if e is not None)
            if data:
                cursor = str(data[-1]["id"])
            if not data or not page.get("has_more"):
                return EventBatch(tuple(listed), cursor, complete=True)
        return EventBatch(tuple(listed), cursor, complete=False)

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await with_retries(
            lambda: self._call_once(fn, *args), self._retry, operation=fn.__name__
        )

    async def _call_once(self, fn: Any, *args: Any) -> Any:
        try:
            result = await fn(*args)
            # StripeObject is not a dict since SDK v13; the wire mapping reads plain dicts.
            return result.to_dict() if isinstance(result, stripe.StripeObject) else result
        except stripe.CardError as exc:
            err = exc.error
            intent = getattr(err, "payment_intent", None) if err else None
            raise ProviderDeclined(
                exc.user_message or "The card was declined.",
                decline_code=(getattr(err, "decline_code", None) or exc.code or "card_declined"),
                provider_ref=_field(intent, "id"),
                provider_request_id=exc.request_id,
            ) from None
        except (stripe.InvalidRequestError, stripe.IdempotencyError) as exc:
            param = getattr(exc, "param", None)
            raise ProviderRejected(
                exc.user_message or "The provider refused the request.",
                param=param,
                provider_request_id=exc.request_id,
            ) from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise ProviderUnavailable(
                "Stripe could not be reached.", provider_request_id=exc.request_id
            ) from None
        except stripe.APIError as exc:
            raise ProviderUnavailable(
                "Stripe answered with an error.", provider_request_id=exc.request_id
            ) from None
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            # Our configuration is wrong: no retry helps, and the buyer cannot fix it.
            raise ProviderError(
                "Stripe refused our credentials.", provider_request_id=exc.request_id
            ) from None


def _field(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    try:
        return obj[key]
    except (KeyError, TypeError):
        return None
