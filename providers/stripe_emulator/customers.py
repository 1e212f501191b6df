"""Customers and the PaymentMethods attached to them, with Stripe's reuse rules.

    unattached pm ──(attach / payment with setup_future_usage)──► attached to one Customer
         │ pays once                                                    │ detach, or the
         ▼                                                              ▼ Customer is deleted
       spent ◄──────────────────────────────────────────────────── detached (spent)

A spent PaymentMethod can neither pay nor be attached again; an attached one pays only
for its own Customer, as many times as asked. Functions here run with `state.lock` held.
"""

from __future__ import annotations

from providers.stripe_emulator.errors import InvalidRequest, resource_missing
from providers.stripe_emulator.state import Customer, EmulatorState, PaymentMethod

# Stripe's own words for each refusal (the SDK raises them as InvalidRequestError).
SPENT_PAYING = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
    "attachment, shared with a connected account without Customer attachment, or was "
    "detached from a Customer. It may not be used again. To use a PaymentMethod multiple "
    "times, you must attach it to a Customer first."
)
SPENT_ATTACHING = (
    "This PaymentMethod was previously used without being attached to a Customer or was "
    "detached from a Customer, and may not be used again."
)
ALREADY_ATTACHED = "The payment method you provided has already been attached to a customer."
NOT_ATTACHED = (
    "The payment method you provided is not attached to a customer so detachment is impossible."
)


def get_customer(state: EmulatorState, customer_id: str, param: str = "customer") -> Customer:
    """A live Customer; a deleted one is as missing as an unknown one, except to GET."""
    customer = state.customers.get(customer_id)
    if customer is None or customer.deleted:
        raise resource_missing("customer", customer_id, param)
    return customer


def create(state: EmulatorState, *, description: str | None, metadata: dict[str, str]) -> Customer:
    customer = Customer(
        id=state.new_id("cus"),
        created=state.now(),
        description=description,
        metadata=metadata,
    )
    state.customers[customer.id] = customer
    state.record("customers.create")
    return customer


def delete(state: EmulatorState, customer: Customer) -> None:
    """Stripe keeps a deleted Customer as a stub; its PaymentMethods are detached for good."""
    for pm_id in customer.payment_methods:
        pm = state.payment_methods[pm_id]
        pm.customer = None
        pm.spent = True
    customer.payment_methods.clear()
    customer.deleted = True
    customer.metadata = {}
    customer.description = None
    state.record("customers.delete")


def attach(state: EmulatorState, pm: PaymentMethod, customer: Customer) -> None:
    # Stripe refuses a second attach even to the same Customer; callers that retry an
    # attach read the method back to see whose it is.
    if pm.customer is not None:
        raise InvalidRequest(ALREADY_ATTACHED, param="payment_method")
    if pm.spent:
        raise InvalidRequest(SPENT_ATTACHING, param="payment_method")
    pm.customer = customer.id
    customer.payment_methods.append(pm.id)
    state.record("payment_methods.attach")


def detach(state: EmulatorState, pm: PaymentMethod) -> None:
    if pm.customer is None:
        raise InvalidRequest(NOT_ATTACHED, param="payment_method")
    owner = state.customers[pm.customer]
    owner.payment_methods.remove(pm.id)
    pm.customer = None
    pm.spent = True
    state.record("payment_methods.detach")


def check_usable(state: EmulatorState, pm: PaymentMethod, customer: str | None) -> None:
    """Refuse a PaymentMethod an intent (for `customer`, or for nobody) may not pay with."""
    if pm.customer is None:
        if pm.spent:
            raise InvalidRequest(SPENT_PAYING, param="payment_method")
        return
    if customer is None:
        raise InvalidRequest(
            f"The PaymentMethod provided ({pm.id}) belongs to a Customer. Please include the "
            "Customer in the `customer` parameter on the PaymentIntent.",
            param="payment_method",
        )
    if pm.customer != customer:
        raise InvalidRequest(
            f"The customer does not have a payment method with the ID {pm.id}. The payment "
            "method must be attached to the customer.",
            param="payment_method",
        )


def listed(
    state: EmulatorState,
    customer: Customer,
    *,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
) -> tuple[list[PaymentMethod], bool]:
    """One page of the Customer's PaymentMethods, most recently attached first."""
    ids = list(reversed(customer.payment_methods))
    if ending_before is not None and starting_after is None:
        # The page just newer than the cursor; `has_more`: newer ones remain beyond it.
        end = _cursor(ids, ending_before, "ending_before")
        start = max(0, end - limit)
        return [state.payment_methods[pm_id] for pm_id in ids[start:end]], start > 0
    if starting_after is not None:
        ids = ids[_cursor(ids, starting_after, "starting_after") + 1 :]
    page = ids[:limit]
    return [state.payment_methods[pm_id] for pm_id in page], len(ids) > len(page)


def _cursor(ids: list[str], pm_id: str, param: str) -> int:
    try:
        return ids.index(pm_id)
    except ValueError:
        raise resource_missing("payment_method", pm_id, param) from None
