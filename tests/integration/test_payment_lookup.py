"""The inbox worker's batch lookup of payments (``store.payments.load_many``): by id or by
the provider's reference, each through its index (never a scan of every payment, which
SQLite made of a row-value IN), and never a payment of another provider that happens to
carry the same reference."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from checkout.db.explain import explain
from checkout.store import payments as store
from tests.conftest import Emulator
from tests.integration.helpers import pay_checkout

pytestmark = pytest.mark.anyio


async def test_a_batch_finds_payments_by_id_and_by_reference_and_only_those(
    ctx: AppContext, stripe_emulator: Emulator
) -> None:
    paid = [await pay_checkout(ctx, stripe_emulator) for _ in range(3)]
    with ctx.db.engine.connect() as conn:
        refs: dict[str, str] = dict(
            conn.execute(
                sa.text("SELECT id, provider_ref FROM payments WHERE id IN (:a, :b, :c)"),
                {"a": paid[0]["id"], "b": paid[1]["id"], "c": paid[2]["id"]},
            ).all()
        )
        found = store.load_many(
            conn,
            [paid[0]["id"]],
            [("stripe", refs[paid[1]["id"]]), ("paypal", refs[paid[2]["id"]])],
        )
    # The first by id, the second by its Stripe reference; the third's reference under
    # another provider's name matches nothing.
    assert sorted(p.id for p in found) == sorted([paid[0]["id"], paid[1]["id"]])


async def test_the_batch_lookup_uses_the_indexes(ctx: AppContext) -> None:
    statement = store.load_many_statement(["pay_a", "pay_b"], [("stripe", "pi_1")])
    with ctx.db.engine.connect() as conn:
        if ctx.db.is_postgres:
            # A tiny table is scanned whatever the indexes; this asks whether it need be.
            conn.execute(sa.text("SET enable_seqscan = off"))
        plan = explain(conn, statement)
    text = "\n".join(plan)
    assert "Seq Scan" not in text, text
    assert not any(line.startswith("SCAN payments") for line in plan), text
