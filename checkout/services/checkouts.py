"""Creating, reading and changing checkouts."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection

from checkout.domain.checkout import Checkout, CheckoutStatus, Contact
from checkout.domain.errors import InvalidCart
from checkout.domain.ids import new_id, new_secret
from checkout.domain.pricing import LineRequest, PricedCart, price_cart
from checkout.services.catalog import CatalogService
from checkout.services.errors import ConflictError, NotFoundError
from checkout.services.uow import UnitOfWork
from checkout.store import checkouts as store
from checkout.store import payments as payment_store
from checkout.store.personal import ContactCodec, OwnedCipher
from customers.blind_index import BlindIndex
from webhooks.group_commit import GroupCommit


@dataclass(frozen=True, slots=True)
class CheckoutAccess:
    """Who asks: the holder of the client secret, or a signed-in customer."""

    secret: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutDraft:
    currency: str
    lines: Sequence[LineRequest]
    contact: Contact


@dataclass(frozen=True, slots=True)
class CheckoutChanges:
    """A PATCH: ``None`` leaves a part as it is. ``contact`` holds only the contact fields
    the caller sent (a ``None`` value clears that field); the rest are kept."""

    currency: str | None = None
    lines: Sequence[LineRequest] | None = None
    contact: Mapping[str, Any] = field(default_factory=dict)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def may_access(checkout: Checkout, secret_hash: str, access: CheckoutAccess) -> bool:
    if access.customer_id is not None and checkout.customer_id == access.customer_id:
        return True
    if access.secret is None:
        return False
    return hmac.compare_digest(hash_secret(access.secret), secret_hash)


@dataclass(frozen=True, slots=True)
class _NewCheckout:
    checkout_id: str
    secret_hash: str
    draft: CheckoutDraft
    customer_id: str | None


def requested_lines(cart: PricedCart) -> list[LineRequest]:
    return [LineRequest(ln.sku, ln.quantity) for ln in cart.lines]


class CheckoutService:
    def __init__(
        self,
        uow: UnitOfWork,
        cipher: OwnedCipher,
        catalog: CatalogService,
        blind_index: BlindIndex,
    ) -> None:
        self._uow = uow
        self._catalog = catalog
        self.codec = ContactCodec(cipher, store.TABLE, blind_index)
        # Checkouts created together share one transaction: under load the BEGIN and
        # COMMIT (on PostgreSQL also the thread hop) are paid once per group, and each
        # caller is answered only once its row has committed.
        self._creations: GroupCommit[_NewCheckout, Checkout | InvalidCart] = GroupCommit(
            uow, self._insert
        )

    async def create(
        self, draft: CheckoutDraft, *, customer_id: str | None = None
    ) -> tuple[Checkout, str]:
        """The new checkout and its client secret (returned once, stored hashed)."""
        checkout_id = new_id("chk")
        secret = new_secret(checkout_id)
        row = _NewCheckout(checkout_id, hash_secret(secret), draft, customer_id)
        made = await self._creations.submit(row)
        if isinstance(made, InvalidCart):
            raise made
        return made, secret

    def _insert(self, conn: Connection, row: _NewCheckout) -> Checkout | InvalidCart:
        """One new checkout, priced from the catalog as of this transaction. A cart that
        does not price is handed back, not raised: the transaction holds other callers'
        checkouts too (group commit), and nothing of this one was written."""
        draft = row.draft
        catalog = self._catalog.for_pricing(conn, (ln.sku for ln in draft.lines))
        try:
            cart = price_cart(draft.currency, draft.lines, catalog)
        except InvalidCart as exc:
            return exc
        store.insert(
            conn,
            self.codec,
            checkout_id=row.checkout_id,
            secret_hash=row.secret_hash,
            cart=cart,
            contact=draft.contact,
            customer_id=row.customer_id,
        )
        return Checkout(
            id=row.checkout_id,
            status=CheckoutStatus.OPEN,
            cart=cart,
            contact=draft.contact,
            customer_id=row.customer_id,
            order_id=None,
            version=1,
        )

    async def get(self, checkout_id: str, access: CheckoutAccess) -> Checkout:
        def work() -> Checkout:
            with self._uow.read() as s:
                return self.authorized(s, checkout_id, access)

        return await self._uow.run(work)

    def authorized(
        self,
        conn: Connection,
        checkout_id: str,
        access: CheckoutAccess,
        *,
        for_update: bool = False,
    ) -> Checkout:
        found = store.load(conn, self.codec, checkout_id, for_update=for_update)
        # A wrong secret and a missing checkout answer alike: ids are not probe-able.
        if found is None or not may_access(found[0], found[1], access):
            raise NotFoundError("No such checkout.")
        return found[0]

    async def update(
        self, checkout_id: str, access: CheckoutAccess, changes: CheckoutChanges
    ) -> Checkout:
        def work() -> Checkout:
            with self._uow.write() as s:
                current = self.authorized(s, checkout_id, access, for_update=True)
                current.ensure_open()
                if payment_store.active_for_checkout(s, current.id) is not None:
                    # The payment in flight was asked for this cart's total; changing the
                    # cart now would let an order ship what nobody paid for.
                    raise ConflictError(
                        "A payment for this checkout is in progress; it cannot change now."
                    )
                currency = changes.currency or current.cart.currency
                lines = (
                    changes.lines if changes.lines is not None else requested_lines(current.cart)
                )
                catalog = self._catalog.for_pricing(s, (ln.sku for ln in lines))
                cart = price_cart(currency, lines, catalog)
                contact = replace(current.contact, **changes.contact)
                if not store.update(s, self.codec, current, cart=cart, contact=contact):
                    raise ConflictError("The checkout changed meanwhile; read it and retry.")
                return Checkout(
                    id=current.id,
                    status=current.status,
                    cart=cart,
                    contact=contact,
                    customer_id=current.customer_id,
                    order_id=current.order_id,
                    version=current.version + 1,
                )

        return await self._uow.run(work)
