"""Staff routes on the public listener (API.md, "Staff"): sign-in, the staff list and an
admin's changes to it, and the audit log (order management: ``staff_orders.py``). Each
route declares the permission it needs (``checkout.web.staff_auth``).

Sign-in is not put through the idempotency layer (its body carries a password; see
``customers.py``). Creating a member is: its answer holds the initial password and the
TOTP enrolment URI, shown once, so a client whose connection dropped can ask again with
the same key and get them (the stored answer is encrypted and expires with the key).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkout.access.roles import Permission, Role
from checkout.context import AppContext
from checkout.store.audit import StoredEvent
from checkout.store.staff import StaffMember
from checkout.web.errors import ValidationFailed
from checkout.web.jsonio import json_response, read_json
from checkout.web.paths import page_params, path_id
from checkout.web.policy import Policy, declare
from checkout.web.request_id import request_id_of
from checkout.web.schemas import StaffMemberIn, StaffMemberPatchIn, StaffSessionIn
from checkout.web.staff_auth import StaffAuth, actor_of, principal_of
from checkout.web.staff_orders import StaffOrderEndpoints

# Staff answers hold emails and secrets: never kept by a browser or a proxy.
_NO_STORE = {"Cache-Control": "no-store"}
AUDIT_ID_PREFIX = "aud_"


def member_json(m: StaffMember) -> dict[str, Any]:
    return {
        "id": m.id,
        "object": "staff_member",
        "email": m.email.expose(),
        "role": m.role.value,
        "active": m.active,
        "created": int(m.created_at.timestamp()),
        "updated": int(m.updated_at.timestamp()),
    }


def audit_event_json(e: StoredEvent) -> dict[str, Any]:
    return {
        "id": f"{AUDIT_ID_PREFIX}{e.id}",
        "object": "audit_event",
        "created": int(e.occurred_at.timestamp()),
        "occurred_at": e.occurred_at.isoformat(timespec="microseconds"),
        "actor": {"type": e.actor.type, "id": e.actor.id},
        "action": e.action,
        "target": {"type": e.target_type, "id": e.target_id},
        "request_id": e.actor.request_id,
        "details": dict(e.details) if e.details else {},
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _audit_cursor(after: str | None) -> int | None:
    if after is None:
        return None
    digits = after.removeprefix(AUDIT_ID_PREFIX)
    if not after.startswith(AUDIT_ID_PREFIX) or not digits.isdigit():
        raise ValidationFailed(
            "starting_after is not an audit event id.", fields={"starting_after": "aud_ id"}
        )
    return int(digits)


class StaffEndpoints:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.auth = StaffAuth(ctx.staff)

    def routes(self) -> list[BaseRoute]:
        manage = self.auth.requires(Permission.STAFF_MANAGE)
        read_audit = self.auth.requires(Permission.AUDIT_READ)
        idem = self.ctx.idempotency
        return [
            Route("/staff/v1/sessions", declare(Policy.OPEN)(self.sign_in), methods=["POST"]),
            Route(
                "/staff/v1/sessions/current", self.auth.signed_in(self.sign_out), methods=["DELETE"]
            ),
            Route("/staff/v1/staff", manage(self.list_members), methods=["GET"]),
            # The token is checked before the idempotency layer, so a request without one
            # never claims (or replays) a stored answer.
            Route("/staff/v1/staff", manage(idem(self.create_member)), methods=["POST"]),
            Route("/staff/v1/staff/{member_id}", manage(self.update_member), methods=["PATCH"]),
            Route("/staff/v1/audit-events", read_audit(self.list_audit_events), methods=["GET"]),
            *StaffOrderEndpoints(self.ctx, self.auth).routes(),
        ]

    async def sign_in(self, request: Request) -> Response:
        body = await read_json(request, StaffSessionIn)
        address = request.client.host if request.client else None
        done = await self.ctx.staff.sign_in(
            body.email,
            body.password,
            body.totp,
            address=address,
            request_id=request_id_of(request.scope),
        )
        return json_response(
            {
                "object": "staff_session",
                "token": done.issued.token,
                "expires_at": int(done.issued.session.expires_at.timestamp()),
                "role": done.role.value,
            },
            status=201,
            headers=_NO_STORE,
        )

    async def sign_out(self, request: Request) -> Response:
        await self.ctx.staff.sign_out(principal_of(request))
        return Response(status_code=204)

    async def list_members(self, request: Request) -> Response:
        limit, after = page_params(request)
        members, more = await self.ctx.staff.page(limit=limit, starting_after=after)
        return json_response(
            {"object": "list", "data": [member_json(m) for m in members], "has_more": more},
            headers=_NO_STORE,
        )

    async def create_member(self, request: Request) -> Response:
        body = await read_json(request, StaffMemberIn)
        done = await self.ctx.staff.create(body.email, Role(body.role), actor_of(request))
        return json_response(
            {
                **member_json(done.member),
                "initial_password": done.password,
                "totp_uri": done.otpauth_uri,
            },
            status=201,
            headers=_NO_STORE,
        )

    async def update_member(self, request: Request) -> Response:
        member_id = path_id(request, "member_id")
        body = await read_json(request, StaffMemberPatchIn)
        member = await self.ctx.staff.update(
            member_id,
            role=None if body.role is None else Role(body.role),
            active=body.active,
            actor=actor_of(request),
        )
        return json_response(member_json(member), headers=_NO_STORE)

    async def list_audit_events(self, request: Request) -> Response:
        limit, after = page_params(request)
        events, more = await self.ctx.audit_log.page(
            limit=limit, starting_after=_audit_cursor(after)
        )
        return json_response(
            {"object": "list", "data": [audit_event_json(e) for e in events], "has_more": more}
        )


def staff_routes(ctx: AppContext) -> list[BaseRoute]:
    return StaffEndpoints(ctx).routes()
