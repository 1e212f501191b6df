"""Capture, void and refund as services, against the Stripe emulator, on each backend."""

from __future__ import annotations

import anyio
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from checkout.domain.operations import InvalidAmount, OperationRefused
from checkout.services.errors import ServiceError
from tests.conftest import Emulator
from tests.integration.helpers import pay_checkout

pytestmark = pytest.mark.anyio


def _row(ctx: AppContext, sql: str, **params: object) -> tuple[object, ...]:
    with ctx.db.engine.connect() as conn:
        return tuple(conn.execute(sa.text(sql), params).one())


async def test_full_capture_of_an_authorization_marks_payment_and_order_paid(
    manual: AppContext, stripe_emulator: Emulator
) -> None:
    pay = await pay_checkout(manual, stripe_emulator)
    assert pay["status"] == "authorized"
    op = await manual.operations.capture(str(pay["id"]))
    assert op.status == "succeeded" and op.amount.amount == 6200
    status, captured = _row(
        manual, "SELECT status, amount_captured FROM payments WHERE id = :id", id=pay["id"]
    )
    assert (status, captured) == ("captured", 6200)
    assert _row(manual, "SELECT status FROM orders WHERE id = :id", id=pay["order_id"]) == ("paid",)


async def test_partial_capture_records_the_captured_amount(
    manual: AppContext, stripe_emulator: Emulator
) -> None:
    pay = await pay_checkout(manual, stripe_emulator)
    op = await manual.operations.capture(str(pay["id"]), 4000)
    assert op.amount.amount == 4000
    assert _row(manual, "SELECT amount_captured FROM payments WHERE id = :id", id=pay["id"]) == (
        4000,
    )
    with pytest.raises(OperationRefused):
        await manual.operations.capture(str(pay["id"]), 1000)


@pytest.mark.parametrize("amount", [0, -5, 6201])
async def test_capture_amounts_outside_the_authorization_are_refused(
    manual: AppContext, stripe_emulator: Emulator, amount: int
) -> None:
    pay = await pay_checkout(manual, stripe_emulator)
    with pytest.raises(InvalidAmount):
        await manual.operations.capture(str(pay["id"]), amount)
    assert _row(manual, "SELECT COUNT(*) FROM payment_operations") == (0,)


async def test_void_then_capture_is_refused_and_changes_nothing(
    manual: AppContext, stripe_emulator: Emulator
) -> None:
    pay = await pay_checkout(manual, stripe_emulator)
    op = await manual.operations.void(str(pay["id"]))
    assert op.status == "succeeded"
    assert _row(manual, "SELECT status FROM payments WHERE id = :id", id=pay["id"]) == ("voided",)
    assert _row(manual, "SELECT status FROM orders WHERE id = :id", id=pay["order_id"]) == (
        "canceled",
    )
    with pytest.raises(OperationRefused):
        await manual.operations.capture(str(pay["id"]))
    assert _row(manual, "SELECT status FROM payments WHERE id = :id", id=pay["id"]) == ("voided",)


async def test_partial_refunds_add_up_and_never_pass_the_captured_amount(
    ctx: AppContext, stripe_emulator: Emulator
) -> None:
    pay = await pay_checkout(ctx, stripe_emulator)  # automatic capture: 6200 captured
    first = await ctx.operations.refund(str(pay["id"]), 2000, "damaged")
    assert first.id.startswith("re_") and first.provider_ref
    await ctx.operations.refund(str(pay["id"]), 3000)
    with pytest.raises(OperationRefused):
        await ctx.operations.refund(str(pay["id"]), 1201)
    last = await ctx.operations.refund(str(pay["id"]), 1200)
    assert last.status == "succeeded"
    status, refunded = _row(
        ctx, "SELECT status, amount_refunded FROM payments WHERE id = :id", id=pay["id"]
    )
    assert (status, refunded) == ("refunded", 6200)
    assert _row(ctx, "SELECT status FROM orders WHERE id = :id", id=pay["order_id"]) == (
        "refunded",
    )
    with pytest.raises(OperationRefused):
        await ctx.operations.refund(str(pay["id"]), 1)


@pytest.mark.parametrize("amount", [0, -1, 6201])
async def test_refund_amounts_no_state_allows_are_invalid(
    ctx: AppContext, stripe_emulator: Emulator, amount: int
) -> None:
    pay = await pay_checkout(ctx, stripe_emulator)
    with pytest.raises(InvalidAmount):
        await ctx.operations.refund(str(pay["id"]), amount)


async def test_refunding_an_uncaptured_authorization_is_refused(
    manual: AppContext, stripe_emulator: Emulator
) -> None:
    pay = await pay_checkout(manual, stripe_emulator)
    with pytest.raises(OperationRefused):
        await manual.operations.refund(str(pay["id"]), 100)


async def test_twenty_concurrent_captures_capture_once(
    manual: AppContext, stripe_emulator: Emulator
) -> None:
    pay = await pay_checkout(manual, stripe_emulator)
    captures_before = stripe_emulator.app.state.faults.count("payment_intents.capture")
    outcomes: list[str] = []

    async def capture() -> None:
        try:
            await manual.operations.capture(str(pay["id"]))
            outcomes.append("ok")
        except (OperationRefused, ServiceError):
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(capture)
    assert outcomes.count("ok") == 1 and outcomes.count("refused") == 19
    assert _row(manual, "SELECT COUNT(*) FROM payment_operations WHERE kind = 'capture'") == (1,)
    assert stripe_emulator.app.state.faults.count("payment_intents.capture") == (
        captures_before + 1
    )


async def test_concurrent_refunds_past_the_captured_amount_are_refused(
    ctx: AppContext, stripe_emulator: Emulator
) -> None:
    pay = await pay_checkout(ctx, stripe_emulator)
    outcomes: list[str] = []

    async def refund() -> None:
        try:
            await ctx.operations.refund(str(pay["id"]), 1000)
            outcomes.append("ok")
        except OperationRefused:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        for _ in range(10):  # 10 x 10.00 against 62.00 captured
            tg.start_soon(refund)
    assert outcomes.count("ok") == 6 and outcomes.count("refused") == 4
    assert _row(ctx, "SELECT amount_refunded FROM payments WHERE id = :id", id=pay["id"]) == (6000,)
