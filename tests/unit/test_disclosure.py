"""What each disclosure policy shows of an order's contact and a phone number."""

from __future__ import annotations

from checkout.domain.checkout import Contact
from checkout.domain.disclosure import (
    FULFILLMENT,
    FULL,
    VIEWER,
    Show,
    disclose_contact,
    show_email,
    show_phone,
)
from customers.masking import Personal

ADDRESS = {
    "name": "Jane Doe",
    "line1": "1 Main St",
    "line2": "Flat 2",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}
CONTACT = Contact(
    email=Personal.email("jane.doe@example.com"),
    shipping_address=Personal(ADDRESS),
    billing_address=Personal(ADDRESS),
)
LOCALITY = {"city": "Springfield", "postal_code": "12345", "country": "US"}


def test_a_viewer_sees_a_masked_email_and_no_street_lines() -> None:
    shown = disclose_contact(CONTACT, VIEWER)
    assert shown == {
        "email": "j***@example.com",
        "shipping_address": LOCALITY,
        "billing_address": LOCALITY,
    }
    assert "Main St" not in repr(shown) and "Jane" not in repr(shown)


def test_fulfillment_sees_the_whole_shipping_address_but_not_the_email() -> None:
    shown = disclose_contact(CONTACT, FULFILLMENT)
    assert shown["email"] == "j***@example.com"
    assert shown["shipping_address"] == ADDRESS
    assert shown["billing_address"] == LOCALITY


def test_full_shows_everything_as_stored() -> None:
    shown = disclose_contact(CONTACT, FULL)
    assert shown["email"] == "jane.doe@example.com"
    assert shown["shipping_address"] == shown["billing_address"] == ADDRESS


def test_a_phone_is_shown_whole_or_not_at_all() -> None:
    phone = Personal("+1 555 0100")
    assert show_phone(phone, Show.FULL) == "+1 555 0100"
    assert show_phone(phone, VIEWER.phone) is None
    assert show_phone(phone, FULFILLMENT.phone) is None


def test_missing_values_stay_missing_and_masking_does_not_change_the_stored_value() -> None:
    assert disclose_contact(Contact(), VIEWER) == {
        "email": None,
        "shipping_address": None,
        "billing_address": None,
    }
    assert show_email(None, Show.FULL) is None
    disclose_contact(CONTACT, VIEWER)
    assert CONTACT.shipping_address is not None
    assert CONTACT.shipping_address.expose()["line1"] == "1 Main St"


def test_every_policy_that_shows_anything_is_audited() -> None:
    assert VIEWER.reveals_personal_data and FULFILLMENT.reveals_personal_data
