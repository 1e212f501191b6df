from __future__ import annotations

import pytest

from checkout.domain.errors import InvalidTransition
from checkout.domain.payment import (
    SECURED,
    TERMINAL,
    PaymentStatus,
    advance,
    can_transition,
    transition,
)

S = PaymentStatus


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PROCESSING, S.REQUIRES_ACTION),
        (S.PROCESSING, S.CAPTURED),
        (S.REQUIRES_ACTION, S.AUTHORIZED),
        (S.AUTHORIZED, S.CAPTURED),
        (S.AUTHORIZED, S.VOIDED),
        (S.CAPTURED, S.PARTIALLY_REFUNDED),
        (S.PARTIALLY_REFUNDED, S.REFUNDED),
        # Reports that skip what we never saw (captured and refunded before we heard).
        (S.AUTHORIZED, S.PARTIALLY_REFUNDED),
        (S.AUTHORIZED, S.REFUNDED),
        (S.PROCESSING, S.REFUNDED),
    ],
)
def test_forward_transitions_are_allowed(current: PaymentStatus, target: PaymentStatus) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.CAPTURED, S.AUTHORIZED),
        (S.CAPTURED, S.PROCESSING),
        (S.AUTHORIZED, S.REQUIRES_ACTION),
        (S.REFUNDED, S.CAPTURED),
        (S.FAILED, S.CAPTURED),
        (S.VOIDED, S.AUTHORIZED),
        (S.CAPTURED, S.VOIDED),
    ],
)
def test_backward_or_impossible_transitions_raise(
    current: PaymentStatus, target: PaymentStatus
) -> None:
    with pytest.raises(InvalidTransition):
        transition(current, target)


def test_terminal_states_have_no_way_out() -> None:
    for terminal in TERMINAL:
        assert not any(can_transition(terminal, other) for other in S)


def test_a_stale_report_leaves_the_newer_state() -> None:
    assert advance(S.CAPTURED, S.AUTHORIZED) is S.CAPTURED
    assert advance(S.CAPTURED, S.REQUIRES_ACTION) is S.CAPTURED
    assert advance(S.REFUNDED, S.CAPTURED) is S.REFUNDED


def test_a_newer_report_moves_forward() -> None:
    assert advance(S.REQUIRES_ACTION, S.CAPTURED) is S.CAPTURED


def test_secured_states_never_lead_to_failed() -> None:
    for state in SECURED:
        assert not can_transition(state, S.FAILED)
