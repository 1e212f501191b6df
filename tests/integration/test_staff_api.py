"""Staff over the public app on both backends: sign-in with password and TOTP, the same
401 for every wrong credential, throttling, roles enforced per route, and changes to a
member taking effect on their next request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.access.roles import Role
from checkout.context import AppContext
from checkout.services.staff import Enrolment
from checkout.store.audit import Actor
from customers.passwords import Argon2Parameters, Passwords
from tests.integration.helpers import sign_up
from tests.staff_codes import code, wrong_code

pytestmark = pytest.mark.anyio

ADMIN_EMAIL = "admin@shop.example"


async def enrol(ctx: AppContext, email: str, role: Role) -> Enrolment:
    return await ctx.staff.create(email, role, Actor("cli"))


async def sign_in(
    api: httpx.AsyncClient, member: Enrolment, *, offset: int = 0, **override: str
) -> httpx.Response:
    body = {
        "email": member.member.email.expose(),
        "password": member.password,
        "totp": code(member.otpauth_uri, offset),
        **override,
    }
    return await api.post("/staff/v1/sessions", json=body)


async def bearer(api: httpx.AsyncClient, member: Enrolment, offset: int = 0) -> dict[str, str]:
    r = await sign_in(api, member, offset=offset)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _error(r: httpx.Response) -> dict[str, Any]:
    err = dict(r.json()["error"])
    assert err.pop("request_id") == r.headers["x-request-id"]
    return err


async def test_a_member_signs_in_with_password_and_code(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    member = await enrol(ctx, "Support@Shop.example", Role.SUPPORT)
    assert member.member.id.startswith("stf_") and len(member.member.id) >= 4 + 24
    # The email is found whatever its case, as for customers.
    r = await sign_in(api, member, email="support@shop.example")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["role"] == "support" and body["token"].startswith("sess_")
    assert isinstance(body["expires_at"], int)
    assert r.headers["cache-control"] == "no-store"
    # Nothing secret or personal is stored in the clear.
    with ctx.db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM staff_members")).mappings().one()
        sessions = conn.execute(sa.text("SELECT * FROM sessions")).mappings().all()
    flat = repr(dict(row)).lower()
    assert "support@shop.example" not in flat and member.password not in flat
    secret = member.otpauth_uri.split("secret=")[1].split("&")[0]
    assert secret.lower() not in flat
    assert row["password_hash"].startswith("$argon2id$")
    assert [s["subject_kind"] for s in sessions] == ["staff"]
    assert body["token"] not in repr([dict(s) for s in sessions])


async def test_wrong_email_password_or_code_all_answer_the_same_401(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    member = await enrol(ctx, "ops@shop.example", Role.VIEWER)
    answers = [
        await sign_in(api, member, email="nobody@shop.example"),
        await sign_in(api, member, password="not the password at all"),
        await sign_in(api, member, totp=wrong_code(member.otpauth_uri)),
        await sign_in(api, member, totp="12"),
    ]
    assert {r.status_code for r in answers} == {401}
    bodies = [_error(r) for r in answers]
    assert all(b == bodies[0] for b in bodies), bodies
    assert bodies[0]["code"] == "unauthenticated"


async def test_a_code_signs_in_once(ctx: AppContext, api: httpx.AsyncClient) -> None:
    member = await enrol(ctx, "ops@shop.example", Role.VIEWER)
    first_code = code(member.otpauth_uri)
    assert (await sign_in(api, member, totp=first_code)).status_code == 201
    replay = await sign_in(api, member, totp=first_code)
    assert replay.status_code == 401
    # An older code is no better; the next step's code (clock drift) still works.
    assert (await sign_in(api, member, totp=code(member.otpauth_uri, -1))).status_code == 401
    assert (await sign_in(api, member, offset=1)).status_code == 201


async def test_repeated_failures_are_throttled_with_retry_after(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    member = await enrol(ctx, "ops@shop.example", Role.VIEWER)
    statuses = [
        (await sign_in(api, member, totp=wrong_code(member.otpauth_uri))).status_code
        for _ in range(5)
    ]
    assert statuses == [401] * 5
    # Locked now, even with every credential right.
    r = await sign_in(api, member)
    assert r.status_code == 429
    assert _error(r)["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) >= 1
    # Customer sign-in has counters of its own.
    cust = await api.post("/v1/sessions", json={"email": "ops@shop.example", "password": "x" * 12})
    assert cust.status_code == 401


async def test_missing_dead_and_customer_tokens_are_401(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    _, customer = await sign_up(api)
    for headers in (
        {},
        {"Authorization": "Bearer sess_not-a-real-token"},
        {"Authorization": "Basic abc"},
        customer,
    ):
        r = await api.get("/staff/v1/staff", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert _error(r)["code"] == "unauthenticated"


async def test_admin_routes_are_403_for_every_lower_role(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    admin = await enrol(ctx, ADMIN_EMAIL, Role.ADMIN)
    for role in (Role.VIEWER, Role.FULFILLMENT, Role.SUPPORT, Role.MANAGER):
        member = await enrol(ctx, f"{role.value}@shop.example", role)
        auth = await bearer(api, member)
        answers = [
            await api.get("/staff/v1/staff", headers=auth),
            await api.post(
                "/staff/v1/staff",
                headers=auth,
                json={"email": f"new-{role.value}@shop.example", "role": "admin"},
            ),
            await api.patch(
                f"/staff/v1/staff/{admin.member.id}", headers=auth, json={"active": False}
            ),
            await api.get("/staff/v1/audit-events", headers=auth),
        ]
        assert [r.status_code for r in answers] == [403] * 4, role
        assert {_error(r)["code"] for r in answers} == {"forbidden"}
    # Nothing was changed by the refused requests.
    auth = await bearer(api, admin)
    listed = (await api.get("/staff/v1/staff", headers=auth)).json()["data"]
    assert len(listed) == 5 and all(m["active"] for m in listed)


async def test_an_admin_enrols_a_member_who_then_signs_in(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    admin = await enrol(ctx, ADMIN_EMAIL, Role.ADMIN)
    auth = await bearer(api, admin)
    r = await api.post(
        "/staff/v1/staff",
        headers={**auth, "Idempotency-Key": "enrol-1"},
        json={"email": "packer@shop.example", "role": "fulfillment"},
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["id"].startswith("stf_") and made["role"] == "fulfillment" and made["active"]
    assert made["email"] == "packer@shop.example"
    assert len(made["initial_password"]) >= 20 and made["totp_uri"].startswith("otpauth://totp/")
    # The same key answers the same enrolment again (a retry after a lost answer).
    again = await api.post(
        "/staff/v1/staff",
        headers={**auth, "Idempotency-Key": "enrol-1"},
        json={"email": "packer@shop.example", "role": "fulfillment"},
    )
    assert again.json() == made
    dup = await api.post(
        "/staff/v1/staff", headers=auth, json={"email": "PACKER@shop.example", "role": "viewer"}
    )
    assert dup.status_code == 409
    bad = await api.post(
        "/staff/v1/staff", headers=auth, json={"email": "x@shop.example", "role": "root"}
    )
    assert bad.status_code == 422 and "role" in bad.json()["error"]["fields"]
    s = await api.post(
        "/staff/v1/sessions",
        json={
            "email": "packer@shop.example",
            "password": made["initial_password"],
            "totp": code(made["totp_uri"]),
        },
    )
    assert s.status_code == 201 and s.json()["role"] == "fulfillment"
    listed = (await api.get("/staff/v1/staff", headers=auth)).json()
    assert {m["email"] for m in listed["data"]} == {ADMIN_EMAIL, "packer@shop.example"}
    assert listed["has_more"] is False
    assert all("initial_password" not in m for m in listed["data"])


async def test_deactivating_a_member_refuses_their_live_token_at_once(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    admin = await enrol(ctx, ADMIN_EMAIL, Role.ADMIN)
    other = await enrol(ctx, "second-admin@shop.example", Role.ADMIN)
    admin_auth = await bearer(api, admin)
    other_auth = await bearer(api, other)
    assert (await api.get("/staff/v1/staff", headers=other_auth)).status_code == 200
    r = await api.patch(
        f"/staff/v1/staff/{other.member.id}", headers=admin_auth, json={"active": False}
    )
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await api.get("/staff/v1/staff", headers=other_auth)).status_code == 401
    # Nor can they sign in again.
    assert (await sign_in(api, other, offset=1)).status_code == 401
    # Even a session that survived (written back by hand) is refused: the row is checked.
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE staff_members SET active = :t"), {"t": True})
    fresh = await bearer(api, other, offset=1)
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE staff_members SET active = :f WHERE id = :id"),
            {"f": False, "id": other.member.id},
        )
    assert (await api.get("/staff/v1/staff", headers=fresh)).status_code == 401


async def test_a_role_change_takes_effect_on_the_next_request(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    admin = await enrol(ctx, ADMIN_EMAIL, Role.ADMIN)
    member = await enrol(ctx, "lead@shop.example", Role.ADMIN)
    admin_auth = await bearer(api, admin)
    member_auth = await bearer(api, member)
    assert (await api.get("/staff/v1/audit-events", headers=member_auth)).status_code == 200
    r = await api.patch(
        f"/staff/v1/staff/{member.member.id}", headers=admin_auth, json={"role": "viewer"}
    )
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    # The change ended the member's sessions; a new one carries the new role.
    assert (await api.get("/staff/v1/audit-events", headers=member_auth)).status_code == 401
    s = await sign_in(api, member, offset=1)
    assert s.status_code == 201 and s.json()["role"] == "viewer"
    viewer_auth = {"Authorization": f"Bearer {s.json()['token']}"}
    assert (await api.get("/staff/v1/audit-events", headers=viewer_auth)).status_code == 403
    # The role is read from the row on each request, not from the session.
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE staff_members SET role = 'admin' WHERE id = :id"),
            {"id": member.member.id},
        )
    assert (await api.get("/staff/v1/audit-events", headers=viewer_auth)).status_code == 200


async def test_the_last_active_admin_cannot_demote_or_deactivate_themselves(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    admin = await enrol(ctx, ADMIN_EMAIL, Role.ADMIN)
    auth = await bearer(api, admin)
    path = f"/staff/v1/staff/{admin.member.id}"
    for body in ({"role": "manager"}, {"active": False}, {"role": "viewer", "active": False}):
        r = await api.patch(path, headers=auth, json=body)
        assert r.status_code == 409, body
        assert _error(r)["code"] == "conflict"
    # A no-op change is fine, and an unknown member is 404.
    assert (await api.patch(path, headers=auth, json={"role": "admin"})).status_code == 200
    missing = await api.patch("/staff/v1/staff/stf_nope", headers=auth, json={"active": False})
    assert missing.status_code == 404
    # With a second admin, the first may step down.
    second = await enrol(ctx, "second@shop.example", Role.ADMIN)
    r = await api.patch(path, headers=auth, json={"role": "manager"})
    assert r.status_code == 200
    # ... and the second, now the last, may not.
    second_auth = await bearer(api, second)
    r = await api.patch(
        f"/staff/v1/staff/{second.member.id}", headers=second_auth, json={"active": False}
    )
    assert r.status_code == 409


async def test_staff_changes_are_in_the_audit_log_without_personal_data(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    admin = await enrol(ctx, ADMIN_EMAIL, Role.ADMIN)
    member = await enrol(ctx, "ops@shop.example", Role.VIEWER)
    auth = await bearer(api, admin)
    r = await api.patch(
        f"/staff/v1/staff/{member.member.id}",
        headers={**auth, "X-Request-Id": "req-audit-1"},
        json={"role": "support"},
    )
    assert r.status_code == 200
    page = await api.get("/staff/v1/audit-events?limit=2", headers=auth)
    assert page.status_code == 200
    first = page.json()
    assert first["has_more"] is True
    newest = first["data"][0]
    assert newest["action"] == "staff.updated"
    assert newest["actor"] == {"type": "staff", "id": admin.member.id}
    assert newest["target"] == {"type": "staff_member", "id": member.member.id}
    assert newest["request_id"] == "req-audit-1"
    assert newest["details"] == {
        "role": "support",
        "previous_role": "viewer",
        "sessions_ended": 0,
    }
    assert first["data"][1]["action"] == "staff.signed_in"
    rest = await api.get(
        f"/staff/v1/audit-events?starting_after={first['data'][1]['id']}", headers=auth
    )
    older = rest.json()
    assert [e["action"] for e in older["data"]] == ["staff.created", "staff.created"]
    assert older["has_more"] is False
    assert older["data"][0]["hash"] == first["data"][1]["prev_hash"]
    everything = repr(first) + repr(older)
    assert "@shop.example" not in everything and admin.password not in everything
    bad = await api.get("/staff/v1/audit-events?starting_after=42", headers=auth)
    assert bad.status_code == 422


async def test_sign_in_rehashes_a_password_made_under_older_parameters(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    member = await enrol(ctx, "ops@shop.example", Role.VIEWER)
    weaker = Passwords(Argon2Parameters(memory_kib=19456, time_cost=2))
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE staff_members SET password_hash = :h"),
            {"h": weaker.hash(member.password)},
        )
    assert (await sign_in(api, member)).status_code == 201
    with ctx.db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM staff_members")).scalar_one()
    assert "m=65536" in stored and ctx.staff.passwords.passwords.verify(stored, member.password)


async def test_sign_out_ends_the_staff_session(ctx: AppContext, api: httpx.AsyncClient) -> None:
    member = await enrol(ctx, ADMIN_EMAIL, Role.ADMIN)
    auth = await bearer(api, member)
    assert (await api.delete("/staff/v1/sessions/current", headers=auth)).status_code == 204
    assert (await api.get("/staff/v1/staff", headers=auth)).status_code == 401


async def test_housekeeping_purges_expired_staff_sessions_only(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    member = await enrol(ctx, ADMIN_EMAIL, Role.ADMIN)
    await bearer(api, member)
    await sign_up(api)
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE sessions SET expires_at = :t"),
            {"t": datetime.now(UTC) - timedelta(minutes=1)},
        )
    assert ctx.staff.purge() == 1
    with ctx.db.engine.connect() as conn:
        kinds = conn.execute(sa.text("SELECT subject_kind FROM sessions")).scalars().all()
    assert kinds == ["customer"]
