"""Staff roles and what each may do (API.md, "Staff"): least privilege first.

Each role holds exactly the permissions of the role below it plus its own, so the table
in API.md reads straight off ``_OWN``. Endpoints declare the one permission they need
(``checkout.web.staff_auth``); nothing here knows about HTTP or the database.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    ORDERS_READ = "orders:read"  # personal data masked
    ORDERS_READ_PII_SHIPPING = "orders:read_pii_shipping"  # the full shipping address
    ORDERS_FULFILL = "orders:fulfill"
    ORDERS_REFUND_LIMITED = "orders:refund_limited"  # up to the configured limit per refund
    ORDERS_CANCEL_UNPAID = "orders:cancel_unpaid"
    ORDERS_REFUND = "orders:refund"  # any amount
    ORDERS_CAPTURE = "orders:capture"
    ORDERS_CANCEL = "orders:cancel"  # any order
    STAFF_MANAGE = "staff:manage"
    AUDIT_READ = "audit:read"


class Role(StrEnum):
    VIEWER = "viewer"
    FULFILLMENT = "fulfillment"
    SUPPORT = "support"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def permissions(self) -> frozenset[Permission]:
        return PERMISSIONS[self]

    def allows(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self]


class UnknownRole(ValueError):
    pass


# Least privilege first; each role adds only these to the one before it.
_OWN: tuple[tuple[Role, frozenset[Permission]], ...] = (
    (Role.VIEWER, frozenset({Permission.ORDERS_READ})),
    (
        Role.FULFILLMENT,
        frozenset({Permission.ORDERS_READ_PII_SHIPPING, Permission.ORDERS_FULFILL}),
    ),
    (
        Role.SUPPORT,
        frozenset({Permission.ORDERS_REFUND_LIMITED, Permission.ORDERS_CANCEL_UNPAID}),
    ),
    (
        Role.MANAGER,
        frozenset({Permission.ORDERS_REFUND, Permission.ORDERS_CAPTURE, Permission.ORDERS_CANCEL}),
    ),
    (Role.ADMIN, frozenset({Permission.STAFF_MANAGE, Permission.AUDIT_READ})),
)


def _cumulative() -> dict[Role, frozenset[Permission]]:
    held: frozenset[Permission] = frozenset()
    table: dict[Role, frozenset[Permission]] = {}
    for role, own in _OWN:
        held = held | own
        table[role] = held
    return table


PERMISSIONS: dict[Role, frozenset[Permission]] = _cumulative()


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise UnknownRole(f"unknown role {text!r}; known: {known}") from None
