"""Erasing a customer (DELETE /v1/me, ``checkout customers erase``), on each backend:
every personal field goes, from the rows and, through the destroyed key, from any copy
of the database taken before; sessions end; saved cards are detached and the provider
customer deleted (later, by the worker, when the provider is down); amounts, lines and
payment ids stay; an audit record says it happened without saying what was erased."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from checkout.db.encrypted import ENCRYPTED_COLUMNS
from customers.pii import PiiDecryptError
from tests.conftest import Emulator
from tests.integration.helpers import PASSWORD, checkout_body, sign_up
from tests.integration.test_saved_methods_api import save_card, stripe_customer_of, stripe_methods

pytestmark = pytest.mark.anyio

EMAIL = "erase.me@example.com"
NAME = "Erin Erasable"
PHONE = "+15551234567"
STREET = "742 Evergreen Terrace"
ADDRESS = {
    "name": NAME,
    "line1": STREET,
    "city": "Springfield",
    "postal_code": "49007",
    "country": "US",
}
SECRETS = (EMAIL, NAME, PHONE, STREET)


async def _customer_with_history(
    api: httpx.AsyncClient, emulator: Emulator
) -> tuple[str, dict[str, str], dict[str, Any]]:
    r = await api.post(
        "/v1/customers", json={"email": EMAIL, "password": PASSWORD, "name": NAME, "phone": PHONE}
    )
    assert r.status_code == 201
    customer_id = r.json()["id"]
    s = await api.post("/v1/sessions", json={"email": EMAIL, "password": PASSWORD})
    auth = {"Authorization": f"Bearer {s.json()['token']}"}
    patched = await api.patch("/v1/me", headers=auth, json={"addresses": [ADDRESS]})
    assert patched.status_code == 200
    body = checkout_body(email=EMAIL, shipping_address=ADDRESS, billing_address=ADDRESS)
    chk = (await api.post("/v1/checkouts", json=body, headers=auth)).json()
    pay = await api.post(
        f"/v1/checkouts/{chk['id']}/payments",
        headers=auth,
        json={
            "provider": "stripe",
            "payment_token": emulator.tokenize(),
            "save_payment_method": True,
        },
    )
    assert pay.status_code == 201, pay.text
    # An open checkout too.
    await api.post("/v1/checkouts", json=body, headers=auth)
    return customer_id, auth, pay.json()


def _row(ctx: AppContext, sql: str, **params: Any) -> Any:
    with ctx.db.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).one()


def _opened(ctx: AppContext, conn: sa.Connection) -> list[str]:
    """Every encrypted value of a database that still decrypts, through the real vault."""
    plain: list[str] = []
    for col in ENCRYPTED_COLUMNS:
        ids = ", ".join(col.row_id)
        for row in conn.execute(sa.text(f'SELECT {ids}, "{col.column}" FROM "{col.table}"')):
            blob = row[-1]
            if blob is None:
                continue
            row_id = "/".join(str(v) for v in row[:-1])
            with contextlib.suppress(PiiDecryptError):
                plain.append(
                    ctx.cipher.decrypt(
                        bytes(blob), table=col.table, column=col.aad_column, row_id=row_id
                    )
                )
    return plain


async def test_erasure_leaves_nothing_that_decrypts_even_in_an_earlier_copy(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator, tmp_path: Path
) -> None:
    customer_id, auth, payment = await _customer_with_history(api, stripe_emulator)
    order_id = payment["order_id"]
    stripe_customer = stripe_customer_of(ctx, customer_id)
    assert (
        stripe_customer is not None and len(stripe_methods(stripe_emulator, stripe_customer)) == 1
    )

    copy: Path | None = None
    if not ctx.db.is_postgres:
        # A backup of the main database taken before erasure (the key store is apart).
        copy = tmp_path / "backup.db"
        src = sqlite3.connect(ctx.db.engine.url.database or "")
        dst = sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        dst.close()
        raw = copy.read_bytes()
        # The raw file never held plaintext ...
        for secret in SECRETS:
            assert secret.encode() not in raw
        # ... yet the copy decrypts today, with the key store as it is.
        engine = sa.create_engine(f"sqlite:///{copy}")
        with engine.connect() as conn:
            before = _opened(ctx, conn)
        engine.dispose()
        assert any(EMAIL in p for p in before) and any(STREET in p for p in before)

    erased = await api.delete("/v1/me", headers=auth)
    assert erased.status_code == 202, erased.text

    # Sessions ended: the token is dead.
    assert (await api.get("/v1/me", headers=auth)).status_code == 401
    # The customer row holds nothing personal, nor the blind index of the email.
    c = _row(ctx, "SELECT * FROM customers WHERE id = :id", id=customer_id)
    assert c.erased_at is not None
    assert (
        c.email_enc,
        c.email_index,
        c.name_enc,
        c.phone_enc,
        c.addresses_enc,
        c.password_hash,
        c.stripe_customer_id,
    ) == (None,) * 7
    for table in ("checkouts", "orders"):
        with ctx.db.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT email_enc, shipping_address_enc, billing_address_enc, "
                    f"email_index FROM {table} WHERE customer_id = :c"
                ),
                {"c": customer_id},
            ).all()
        assert rows and all(tuple(r) == (None,) * 4 for r in rows)
    with ctx.db.engine.connect() as conn:
        outbox = conn.execute(
            sa.text("SELECT to_enc, data_enc FROM email_outbox WHERE customer_id = :c"),
            {"c": customer_id},
        ).all()
        assert outbox and all(tuple(r) == (None, None) for r in outbox)
        assert conn.execute(sa.text("SELECT COUNT(*) FROM payment_methods")).scalar() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM erasure_tasks")).scalar() == 0
    # What accounting needs stays.
    o = _row(ctx, "SELECT total, erased_at FROM orders WHERE id = :id", id=order_id)
    assert o.total == 6200 and o.erased_at is not None
    assert _row(ctx, "SELECT COUNT(*) AS n FROM order_lines WHERE order_id = :id", id=order_id).n
    p = _row(ctx, "SELECT id, provider_ref FROM payments WHERE id = :id", id=payment["id"])
    assert p.provider_ref
    # The key is gone from the key store.
    assert ctx.cipher.keys.keys(customer_id) == []
    # The provider holds no card for them any more.
    assert stripe_methods_or_none(stripe_emulator, stripe_customer) is None

    # The audit log says it happened, not what was erased.
    a = _row(ctx, "SELECT * FROM audit_events WHERE action = 'customer.erased'")
    assert (a.actor_type, a.actor_id, a.target_id) == ("customer", customer_id, customer_id)
    assert a.request_id
    assert not any(s in str(tuple(a)) for s in SECRETS)

    # The main database and the earlier copy: nothing decrypts to the customer's data.
    with ctx.db.engine.connect() as conn:
        after = _opened(ctx, conn)
    assert not any(s in p for p in after for s in SECRETS)
    if copy is not None:
        engine = sa.create_engine(f"sqlite:///{copy}")
        with engine.connect() as conn:
            from_copy = _opened(ctx, conn)
        engine.dispose()
        assert not any(s in p for p in from_copy for s in SECRETS)

    # The address may register again, as a new customer.
    again = await api.post("/v1/customers", json={"email": EMAIL, "password": PASSWORD})
    assert again.status_code == 201 and again.json()["id"] != customer_id
    signed = await api.post("/v1/sessions", json={"email": EMAIL, "password": PASSWORD})
    assert signed.status_code == 201
    me = await api.get("/v1/me", headers={"Authorization": f"Bearer {signed.json()['token']}"})
    assert me.json()["id"] == again.json()["id"]
    orders = await api.get(
        "/v1/me/orders", headers={"Authorization": f"Bearer {signed.json()['token']}"}
    )
    assert orders.json()["data"] == []


def stripe_methods_or_none(emulator: Emulator, stripe_customer: str) -> list[str] | None:
    """The customer's methods at Stripe, or None once the customer is deleted."""
    try:
        return stripe_methods(emulator, stripe_customer)
    except httpx.HTTPStatusError:
        return None


async def test_a_provider_outage_leaves_the_provider_steps_to_the_worker(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    customer_id, auth = await sign_up(api, "outage@example.com")
    method = await save_card(api, stripe_emulator, auth)
    stripe_customer = stripe_customer_of(ctx, customer_id)
    assert stripe_customer is not None
    faults = stripe_emulator.app.state.faults
    faults.add("error_503", method="DELETE", path_prefix="/v1/customers", times=1000)
    faults.add("error_503", method="POST", path_prefix="/v1/payment_methods", times=1000)
    try:
        erased = await api.delete("/v1/me", headers=auth)
        assert erased.status_code == 202, erased.text
        # Our side is done at once: fields, sessions, keys.
        assert (await api.get("/v1/me", headers=auth)).status_code == 401
        assert ctx.cipher.keys.keys(customer_id) == []
        with ctx.db.engine.connect() as conn:
            kinds = sorted(conn.execute(sa.text("SELECT kind FROM erasure_tasks")).scalars())
        assert kinds == ["delete_provider_customer", "detach_method"]
        assert stripe_methods(stripe_emulator, stripe_customer) != []
    finally:
        faults.clear()
    # The worker retries once the backoff is over.
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE erasure_tasks SET next_attempt_at = '2000-01-01'"))
    assert await ctx.erasure.run_once() == 2
    with ctx.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM erasure_tasks")).scalar() == 0
    assert stripe_methods_or_none(stripe_emulator, stripe_customer) is None
    assert method["id"]


async def test_erasing_twice_is_harmless_and_unknown_customers_are_refused(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    from checkout.services.errors import NotFoundError
    from checkout.store.audit import Actor

    customer_id, _auth = await sign_up(api, "twice@example.com")
    await ctx.erasure.erase(customer_id, Actor("cli"))
    done = await ctx.erasure.erase(customer_id, Actor("cli"))
    assert done.pending_steps == 0
    with ctx.db.engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT COUNT(*) FROM audit_events WHERE target_id = :c"),
                {"c": customer_id},
            ).scalar()
            == 1
        )
    with pytest.raises(NotFoundError):
        await ctx.erasure.erase("cus_unknown", Actor("cli"))


async def test_a_customers_idempotent_responses_are_erased_with_them(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    """A stored idempotent response can hold the customer's email: it is encrypted under
    their key, survives a rotation under it, and is unreadable once they are erased."""
    from customers.keystore import SYSTEM
    from customers.rotation import Rotation
    from customers.vault import key_id_of

    customer_id, bearer = await sign_up(api, "idem@example.com")
    auth = {**bearer, "Idempotency-Key": "mine-1"}
    first = await api.post(
        "/v1/checkouts", json=checkout_body(email="idem@example.com"), headers=auth
    )
    assert first.status_code == 201
    with ctx.db.engine.connect() as conn:
        blob = conn.execute(sa.text("SELECT response_enc FROM idempotency_keys")).scalar_one()
    assert ctx.cipher.keys.owner_of(key_id_of(bytes(blob)) or "") == customer_id
    ctx.cipher.keys.rotate(SYSTEM)
    Rotation(ctx.cipher, ENCRYPTED_COLUMNS).run(ctx.uow.write)
    with ctx.db.engine.connect() as conn:
        after = conn.execute(sa.text("SELECT response_enc FROM idempotency_keys")).scalar_one()
    assert ctx.cipher.keys.owner_of(key_id_of(bytes(after)) or "") == customer_id
    erased = await api.delete("/v1/me", headers=bearer)
    assert erased.status_code == 202
    replay = await api.post(
        "/v1/checkouts", json=checkout_body(email="idem@example.com"), headers=auth
    )
    assert replay.status_code in (401, 404)
    with pytest.raises(PiiDecryptError):
        ctx.cipher.decrypt(bytes(after), table="idempotency_keys", column="response", row_id="x")
