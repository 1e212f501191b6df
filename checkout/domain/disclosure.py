"""How much of an order's or a customer's personal data a reader is shown.

One pure function per kind of value, driven by a :class:`Disclosure` policy, so that the
integration API and the staff API cannot drift apart in what "masked" means:

- ``VIEWER`` (staff viewer): email masked (``j***@example.com``), addresses without their
  street lines or recipient name, no phone.
- ``FULFILLMENT`` (staff fulfillment and up, and an API key with ``orders:read`` only): email
  masked, the full shipping address (a parcel needs it), the billing address without its
  street lines, no phone.
- ``FULL`` (an API key that also holds ``customers:read``): every field as stored. No
  staff role gets it: API.md's role table gives none of them the customer's contact
  details (``checkout.web.staff_orders``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from checkout.domain.checkout import Address, Contact
from customers.masking import Personal, mask_email

# Address fields that locate a door or name a person; the rest (city, region, postal
# code, country) is what a viewer may see.
STREET_FIELDS = frozenset({"name", "line1", "line2"})


class Show(StrEnum):
    FULL = "full"
    MASKED = "masked"  # email: first letter and domain; address: without street lines
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Disclosure:
    name: str
    email: Show
    shipping_address: Show
    billing_address: Show
    phone: Show

    @property
    def reveals_personal_data(self) -> bool:
        """Whether a read under this policy shows anything personal (and is audited)."""
        return any(
            s is not Show.NONE
            for s in (self.email, self.shipping_address, self.billing_address, self.phone)
        )


VIEWER = Disclosure("viewer", Show.MASKED, Show.MASKED, Show.MASKED, Show.NONE)
FULFILLMENT = Disclosure("fulfillment", Show.MASKED, Show.FULL, Show.MASKED, Show.NONE)
FULL = Disclosure("full", Show.FULL, Show.FULL, Show.FULL, Show.FULL)


def show_email(value: Personal[str] | None, show: Show) -> str | None:
    if value is None or show is Show.NONE:
        return None
    return value.expose() if show is Show.FULL else mask_email(value.expose())


def show_address(value: Personal[Address] | None, show: Show) -> Address | None:
    if value is None or show is Show.NONE:
        return None
    address = dict(value.expose())
    if show is Show.FULL:
        return address
    return {k: v for k, v in address.items() if k not in STREET_FIELDS}


def show_phone(value: Personal[str] | None, show: Show) -> str | None:
    # A phone number has no useful partial form here: shown whole or not at all.
    if value is None or show is not Show.FULL:
        return None
    return value.expose()


def disclose_contact(contact: Contact, policy: Disclosure) -> dict[str, Any]:
    """An order's contact fields as JSON values, under ``policy``."""
    return {
        "email": show_email(contact.email, policy.email),
        "shipping_address": show_address(contact.shipping_address, policy.shipping_address),
        "billing_address": show_address(contact.billing_address, policy.billing_address),
    }
