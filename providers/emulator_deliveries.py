"""Misbehaving webhook deliveries, for the emulators that send webhooks.

A real provider's deliveries get lost (the endpoint was down past the retries), arrive
twice, and arrive out of order; `DeliveryFaults` makes the emulator do each on demand:

    mode    deliver  send each batch of new events as it is made (the default)
            drop     the endpoint is down: nothing is sent, ever (the events stay listable)
            hold     keep new events back until `release`
    copies  1-10     every event is sent this many times
    order   created | reverse | shuffle   the order of each batch (and of a release)

Over HTTP, with the emulator's secret key:

    curl -X PUT $EMULATOR/_emulator/deliveries -H "Authorization: Bearer $KEY" \\
        -d '{"mode": "hold", "order": "reverse", "copies": 2}'
    curl -X POST $EMULATOR/_emulator/deliveries/release -H "Authorization: Bearer $KEY"
"""

from __future__ import annotations

import enum
import json
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.emulator_faults import CONTROL_PREFIX

MAX_COPIES = 10


class DeliveryMode(enum.StrEnum):
    DELIVER = "deliver"
    DROP = "drop"
    HOLD = "hold"


class DeliveryOrder(enum.StrEnum):
    CREATED = "created"
    REVERSE = "reverse"
    SHUFFLE = "shuffle"


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    mode: DeliveryMode = DeliveryMode.DELIVER
    copies: int = 1
    order: DeliveryOrder = DeliveryOrder.CREATED


class DeliveryFaults:
    """The current plan and the events held back; safe across threads, since tests change
    the plan from their own thread while the server's loop sends."""

    def __init__(self, ledger: Callable[[str], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._plan = DeliveryPlan()
        self._held: list[bytes] = []
        self._ledger = ledger

    @property
    def plan(self) -> DeliveryPlan:
        with self._lock:
            return self._plan

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def set(
        self,
        *,
        mode: DeliveryMode | str | None = None,
        copies: int | None = None,
        order: DeliveryOrder | str | None = None,
    ) -> DeliveryPlan:
        """Change part of the plan; ValueError for an unknown mode or order, or bad copies."""
        with self._lock:
            plan = self._plan
            if mode is not None:
                plan = replace(plan, mode=DeliveryMode(mode))
            if order is not None:
                plan = replace(plan, order=DeliveryOrder(order))
            if copies is not None:
                # bool is an int subclass; `"copies": true` is a mistake, not 1.
                if (
                    not isinstance(copies, int)
                    or isinstance(copies, bool)
                    or not 1 <= copies <= MAX_COPIES
                ):
                    raise ValueError(f"copies must be an integer from 1 to {MAX_COPIES}")
                plan = replace(plan, copies=copies)
            self._plan = plan
            return plan

    def reset(self) -> None:
        """Back to plain delivery; anything held is forgotten (still listable as events)."""
        with self._lock:
            self._plan = DeliveryPlan()
            self._held.clear()

    def dispatch(self, batch: list[bytes]) -> list[bytes]:
        """What to send now of newly made events, in sending order."""
        if not batch:
            return []
        with self._lock:
            plan = self._plan
            if plan.mode is DeliveryMode.DROP:
                self._count("webhooks.dropped", len(batch))
                return []
            if plan.mode is DeliveryMode.HOLD:
                self._held.extend(batch)
                return []
        return _arrange(batch, plan)

    def release(self) -> tuple[list[bytes], int]:
        """Everything held, in sending order, and how many events that was."""
        with self._lock:
            held, self._held = self._held, []
            plan = self._plan
        return _arrange(held, plan), len(held)

    def _count(self, operation: str, times: int) -> None:
        if self._ledger is not None:
            for _ in range(times):
                self._ledger(operation)


def _arrange(batch: list[bytes], plan: DeliveryPlan) -> list[bytes]:
    ordered = list(batch)
    if plan.order is DeliveryOrder.REVERSE:
        ordered.reverse()
    elif plan.order is DeliveryOrder.SHUFFLE:
        random.shuffle(ordered)
    # Copies follow their original at once: a retry racing the first delivery.
    return [body for body in ordered for _ in range(plan.copies)]


def delivery_routes(
    faults: DeliveryFaults,
    *,
    release: Callable[[], int],
    authorized: Callable[[Request], bool],
) -> list[Route]:
    """`GET`/`PUT /_emulator/deliveries` and `POST /_emulator/deliveries/release`;
    `release` sends what is held and says how many events that was."""

    def describe() -> dict[str, object]:
        return {**asdict(faults.plan), "held": faults.held}

    async def show(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        return JSONResponse(describe())

    async def change(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        try:
            data = json.loads(await request.body())
            if not isinstance(data, dict):
                raise ValueError("Expected a JSON object")
            unknown = set(data) - {"mode", "copies", "order"}
            if unknown:
                raise ValueError(f"Unknown fields: {', '.join(sorted(unknown))}")
            faults.set(mode=data.get("mode"), copies=data.get("copies"), order=data.get("order"))
        except ValueError as bad:  # JSON, enum and range errors alike
            return JSONResponse({"error": str(bad)}, status_code=400)
        return JSONResponse(describe())

    async def release_held(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        return JSONResponse({"released": release()})

    return [
        Route(CONTROL_PREFIX + "deliveries", show, methods=["GET"]),
        Route(CONTROL_PREFIX + "deliveries", change, methods=["PUT"]),
        Route(CONTROL_PREFIX + "deliveries/release", release_held, methods=["POST"]),
    ]


def _unauthorized() -> Response:
    return JSONResponse({"error": "Not authorized for emulator control"}, status_code=401)
