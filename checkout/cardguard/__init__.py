"""The card-data guard: card numbers and card fields are refused everywhere (API.md).

Detection lives in :mod:`checkout.cardguard.detect` (also used to mask logs), the
request-part scanning in :mod:`checkout.cardguard.scan`, and the ASGI middleware in
:mod:`checkout.cardguard.middleware`.
"""

from checkout.cardguard.detect import (
    contains_card_data,
    find_pans,
    is_card_field_name,
    luhn_valid,
    mask_pans,
)
from checkout.cardguard.middleware import CardDataGuard

__all__ = [
    "CardDataGuard",
    "contains_card_data",
    "find_pans",
    "is_card_field_name",
    "luhn_valid",
    "mask_pans",
]
