"""Domain objects rendered as API.md's JSON shapes."""

from __future__ import annotations

from typing import Any

from checkout.domain.catalog import Product
from checkout.domain.checkout import Checkout
from checkout.domain.money import Money
from checkout.domain.order import Order
from checkout.domain.payment import Payment
from customers.accounts import Customer


def product_json(product: Product, currency: str | None) -> dict[str, Any] | None:
    """The product priced in ``currency`` (or its first currency); None if not sold in it."""
    if not product.prices:
        return None
    chosen = currency if currency is not None else min(product.prices)
    price = product.price_in(chosen)
    if price is None:
        return None
    return {
        "id": product.id,
        "object": "product",
        "sku": product.sku,
        "name": product.name,
        "price": price.to_json(),
        "prices": [Money(a, c).to_json() for c, a in sorted(product.prices.items())],
        "active": product.active,
    }


def checkout_json(checkout: Checkout, client_secret: str | None = None) -> dict[str, Any]:
    cart = checkout.cart
    contact = checkout.contact
    body: dict[str, Any] = {"id": checkout.id, "object": "checkout"}
    if client_secret is not None:
        body["client_secret"] = client_secret
    body.update(
        {
            "status": checkout.status.value,
            "currency": cart.currency,
            "lines": [
                {
                    "sku": ln.sku,
                    "name": ln.name,
                    "quantity": ln.quantity,
                    "unit_price": ln.unit_price.to_json(),
                    "total": ln.total.to_json(),
                }
                for ln in cart.lines
            ],
            "subtotal": cart.subtotal.to_json(),
            "shipping": cart.shipping.to_json(),
            "total": cart.total.to_json(),
            # The caller proved it holds this checkout, so it sees what it entered.
            "email": contact.email.expose() if contact.email else None,
            "shipping_address": (
                contact.shipping_address.expose() if contact.shipping_address else None
            ),
            "billing_address": (
                contact.billing_address.expose() if contact.billing_address else None
            ),
            "order_id": checkout.order_id,
        }
    )
    return body


def payment_json(payment: Payment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": payment.id,
        "object": "payment",
        "provider": payment.provider,
        "status": payment.status.value,
        "amount": payment.amount.to_json(),
        "checkout_id": payment.checkout_id,
    }
    if payment.order_id:
        body["order_id"] = payment.order_id
    if payment.next_action:
        body["next_action"] = dict(payment.next_action)
    return body


def customer_json(customer: Customer) -> dict[str, Any]:
    """The signed-in customer's own view of themselves: their fields in the clear."""
    return {
        "id": customer.id,
        "object": "customer",
        "email": customer.email.expose(),
        "email_verified": customer.email_verified_at is not None,
        "name": customer.name.expose() if customer.name else None,
        "phone": customer.phone.expose() if customer.phone else None,
        "addresses": customer.addresses.expose(),
        "created": int(customer.created_at.timestamp()),
    }


def order_core_json(order: Order) -> dict[str, Any]:
    """An order without its personal fields: what every view of it shares (the customer's
    below, and staff's and integrations' in ``order_views``, which add those fields under
    a disclosure policy)."""
    return {
        "id": order.id,
        "object": "order",
        "checkout_id": order.checkout_id,
        "status": order.status,
        "currency": order.total.currency,
        "lines": [
            {
                "sku": ln.sku,
                "name": ln.name,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price.to_json(),
                "total": ln.total.to_json(),
            }
            for ln in order.lines
        ],
        "subtotal": order.subtotal.to_json(),
        "shipping": order.shipping.to_json(),
        "total": order.total.to_json(),
        "created": int(order.created_at.timestamp()),
        "fulfilled": None if order.fulfilled_at is None else int(order.fulfilled_at.timestamp()),
    }


def order_json(order: Order) -> dict[str, Any]:
    """The signed-in customer's own order, their personal fields in full."""
    contact = order.contact
    return {
        **order_core_json(order),
        "email": contact.email.expose() if contact.email else None,
        "shipping_address": contact.shipping_address.expose() if contact.shipping_address else None,
        "billing_address": contact.billing_address.expose() if contact.billing_address else None,
    }
