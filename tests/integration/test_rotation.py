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
