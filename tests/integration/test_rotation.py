"""Key rotation on both backends: every encrypted field moves to the new primary key in
batches while staying readable, old (v1) values included; nothing encrypted is missed."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from checkout.context import AppContext
from checkout.db.encrypted import ENCRYPTED_COLUMNS
from customers.column import Encrypted
from customers.keystore import SYSTEM
from customers.pii import PiiCipher
from customers.rotation import Rotation
from tests.integration.helpers import checkout_body

pytestmark = pytest.mark.anyio


def test_every_encrypted_column_is_known_to_rotation() -> None:
    import checkout.db.tables  # noqa: F401  (registers the tables)
    import customers.tables  # noqa: F401
    import webhooks.tables  # noqa: F401

    stored = {
        (t.name, c.name)
        for t in SQLModel.metadata.sorted_tables
        for c in t.columns
        if c.name.endswith("_enc") or isinstance(c.type, Encrypted)
    }
    assert stored == {(c.table, c.column) for c in ENCRYPTED_COLUMNS}


def test_encrypted_column_types_bind_the_name_rotation_decrypts_with() -> None:
    import customers.tables  # noqa: F401

    tables = {t.name: t for t in SQLModel.metadata.sorted_tables}
    for col in ENCRYPTED_COLUMNS:
        kind = tables[col.table].c[col.column].type
        if isinstance(kind, Encrypted):
            assert (kind.table, kind.column) == (col.table, col.aad_column)


async def test_rotation_moves_every_field_and_keeps_it_readable(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    made = []
    for i in range(7):
        r = await api.post(
            "/v1/checkouts",
            json=checkout_body(email=f"buyer{i}@example.com"),
            headers={"Idempotency-Key": f"create-{i}"},
        )
        assert r.status_code == 201
        made.append(r.json())
    # A value from before the vault (the root-derived key) is moved as well.
    legacy = PiiCipher.from_root(ctx.settings.root_secret_bytes())
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE checkouts SET email_enc = :b WHERE id = :id"),
            {
                "b": legacy.encrypt(
                    "old@example.com", table="checkouts", column="email", row_id=made[0]["id"]
                ),
                "id": made[0]["id"],
            },
        )
    rotation = Rotation(ctx.cipher, ENCRYPTED_COLUMNS)
    old = ctx.cipher.keys.primary(SYSTEM)[0]
    new = ctx.cipher.keys.rotate(SYSTEM)
    progress: list[tuple[str, int]] = []
    moved = rotation.run(ctx.uow.write, batch=3, progress=lambda w, n: progress.append((w, n)))
    # 7 emails, 7 shipping addresses, 7 stored idempotent responses.
    assert moved == 21
    assert ("checkouts.email_enc", 3) in progress  # batches of three
    with ctx.db.engine.connect() as conn:
        status = rotation.status(conn)
    assert {key for _, key, _ in status} == {new}
    assert old != new
    assert rotation.run(ctx.uow.write) == 0  # nothing left: a rerun is a no-op
    for i, chk in enumerate(made):
        got = await api.get(
            f"/v1/checkouts/{chk['id']}", headers={"X-Checkout-Secret": chk["client_secret"]}
        )
        expected = "old@example.com" if i == 0 else f"buyer{i}@example.com"
        assert got.json()["email"] == expected
        assert got.json()["shipping_address"]["line1"] == "1 Main St"
    # Idempotent replays still decrypt their stored responses.
    again = await api.post(
        "/v1/checkouts",
        json=checkout_body(email="buyer3@example.com"),
        headers={"Idempotency-Key": "create-3"},
    )
    assert again.json()["id"] == made[3]["id"]


async def test_rotating_every_owner_moves_customers_fields_to_their_new_key(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    """Customers' own keys rotate too: each customer's fields move to that customer's new
    key (never to another owner's), stay readable through the API, and the old keys are
    deleted once nothing names them; an erased customer gets no new key."""
    from customers.vault import key_id_of
    from tests.integration.helpers import sign_up

    keys = ctx.cipher.keys
    people = []
    for who in ("ann", "bob", "gone"):
        cid, auth = await sign_up(api, f"{who}@example.com")
        r = await api.patch("/v1/me", headers=auth, json={"name": who.title()})
        assert r.status_code == 200
        made = await api.post(
            "/v1/checkouts", json=checkout_body(email=f"{who}@example.com"), headers=auth
        )
        assert made.status_code == 201
        people.append((cid, auth))
    gone_id, gone_auth = people.pop()
    assert (await api.delete("/v1/me", headers=gone_auth)).status_code == 202
    before = {cid: keys.primary(cid)[0] for cid, _ in people}

    rotated = keys.rotate_all(page=1)  # a page per owner: the paging is exercised
    owners = set(keys.owners(limit=100))
    assert rotated == len(owners) and set(before) <= owners
    assert gone_id not in owners  # the erased customer's keys stay destroyed
    rotation = Rotation(ctx.cipher, ENCRYPTED_COLUMNS)
    with ctx.db.engine.connect() as conn:
        behind = sum(c.to_move for c in rotation.summary(conn))
    assert behind >= 6  # each customer's email, name, checkout email, ...
    rotation.run(ctx.uow.write, batch=2)

    with ctx.db.engine.connect() as conn:
        summary = rotation.summary(conn)
        in_use = rotation.keys_in_use(conn)
        blobs = conn.execute(
            sa.text("SELECT customer_id, email_enc FROM checkouts WHERE email_enc IS NOT NULL")
        ).all()
    assert sum(c.to_move for c in summary) == 0
    for owner, blob in blobs:
        kid = key_id_of(bytes(blob))
        assert kid is not None and keys.owner_of(kid) == owner  # still the owner's own key
        assert kid == keys.primary(owner)[0] != before[owner]
    # Old keys stay while writers may still cache them as primary, then go.
    assert keys.retire_unused(in_use) == 0
    assert keys.retire_unused(in_use, grace_seconds=0) >= 2
    assert all(keys.dek(old) is None for old in before.values())
    for cid, auth in people:
        me = await api.get("/v1/me", headers=auth)
        assert me.status_code == 200 and me.json()["id"] == cid
        assert me.json()["name"] in ("Ann", "Bob")
        orders = await api.get("/v1/me/export", headers=auth)
        assert orders.status_code == 200


async def test_a_new_kek_rewraps_every_data_key_and_the_old_kek_can_go(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    """KEK rotation: with the new KEK current and the old one listed as previous, every
    data key is re-wrapped (no ciphertext changes); then the new KEK alone opens all."""
    import os

    from customers.keys import KeyUnwrapError, LocalKeyProvider
    from customers.keystore import KeyStore
    from customers.vault import Vault

    cid, _ = await sign_up_with_name(api)
    ctx.cipher.keys.primary(SYSTEM)  # a second key, so the re-wrap takes two batches
    old_kek = ctx.settings.kek_bytes()
    new_kek = os.urandom(32)
    url = str(ctx.settings.keystore_url)
    with ctx.db.engine.connect() as conn:
        blob = conn.execute(
            sa.text("SELECT name_enc FROM customers WHERE id = :id"), {"id": cid}
        ).scalar_one()
    moving = KeyStore(url, LocalKeyProvider(new_kek, previous=(old_kek,)))
    assert set(moving.kek_counts()) == {LocalKeyProvider(old_kek).kek_id}
    n = moving.rewrap(batch=1)
    assert n == sum(moving.kek_counts().values()) >= 2
    assert moving.kek_counts() == {moving.kek_id: n}
    assert moving.rewrap() == 0  # done: a rerun is a no-op
    moving.close()

    only_new = Vault(KeyStore(url, LocalKeyProvider(new_kek)))
    assert only_new.decrypt(bytes(blob), table="customers", column="name", row_id=cid) == "Nia"
    only_old = KeyStore(url, LocalKeyProvider(old_kek))
    with pytest.raises(KeyUnwrapError):
        only_old.dek(only_new.keys.primary(cid)[0])
    only_new.keys.close()
    only_old.close()


async def sign_up_with_name(api: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    from tests.integration.helpers import sign_up

    cid, auth = await sign_up(api, "nia@example.com")
    assert (await api.patch("/v1/me", headers=auth, json={"name": "Nia"})).status_code == 200
    return cid, auth
