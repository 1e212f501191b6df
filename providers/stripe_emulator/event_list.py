"""`GET /v1/events` and `GET /v1/events/{id}`: Stripe's parameters, checks and list shape.

- `limit`: 1-100, default 10
- `starting_after`: an event id; the page of older events after it
- `ending_before`: an event id; the page of newer events before it (not with starting_after)
- `created`: a Unix time (exact), or `created[gt|gte|lt|lte]`
- `type`: one event name, or a group with `*` as a wildcard (`payment_intent.*`)
- `types[]`: up to 20 exact names (not with `type`)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from providers.stripe_emulator.errors import InvalidRequest, resource_missing
from providers.stripe_emulator.events import Event
from providers.stripe_emulator.forms import Form, FormError, JsonObject, ParamValue
from providers.stripe_emulator.pipeline import Call

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_TYPES = 20
_BOUNDS = ("gt", "gte", "lt", "lte")
_PARAMS = ("limit", "starting_after", "ending_before", "created", "type", "types", "expand")


def list_events(call: Call) -> JsonObject:
    form = Form(call.params, _PARAMS)
    limit = form.integer("limit", minimum=1)
    if limit is not None and limit > MAX_LIMIT:
        raise FormError(
            f"This value must be less than or equal to {MAX_LIMIT}.",
            "limit",
            "parameter_invalid_integer",
        )
    starting_after = form.string("starting_after") or None
    ending_before = form.string("ending_before") or None
    if starting_after and ending_before:
        raise InvalidRequest(
            "Received both starting_after and ending_before parameters. Please pass in only one."
        )
    matches = _all_of(_created_filter(call.params.get("created")), _type_filter(form))
    try:
        page, has_more = call.state.events.page(
            limit=limit or DEFAULT_LIMIT,
            matches=matches,
            starting_after=starting_after,
            ending_before=ending_before,
        )
    except KeyError as missing:
        param = "starting_after" if starting_after else "ending_before"
        raise resource_missing("event", str(missing.args[0]), param) from None
    return {
        "object": "list",
        "data": [json.loads(event.payload) for event in page],
        "has_more": has_more,
        "url": "/v1/events",
    }


def retrieve_event(call: Call) -> JsonObject:
    Form(call.params, ("expand",))
    event = call.state.events.get(call.path["id"])
    if event is None:
        raise resource_missing("event", call.path["id"], "id")
    body: JsonObject = json.loads(event.payload)
    return body


Filter = Callable[[Event], bool]


def _all_of(*filters: Filter | None) -> Filter:
    active = [f for f in filters if f is not None]
    return lambda event: all(f(event) for f in active)


def _created_filter(value: ParamValue | None) -> Filter | None:
    if value is None:
        return None
    if isinstance(value, str):
        exact = _timestamp(value, "created")
        return lambda event: event.created == exact
    unknown = sorted(set(value) - set(_BOUNDS))
    if unknown:
        raise FormError(
            f"Received unknown parameter: created[{unknown[0]}]",
            f"created[{unknown[0]}]",
            "parameter_unknown",
        )
    bounds: dict[str, int] = {}
    for name, raw in value.items():
        if not isinstance(raw, str):
            raise FormError(f"Invalid integer: created[{name}]", f"created[{name}]")
        bounds[name] = _timestamp(raw, f"created[{name}]")

    def within(event: Event) -> bool:
        t = event.created
        return (
            ("gt" not in bounds or t > bounds["gt"])
            and ("gte" not in bounds or t >= bounds["gte"])
            and ("lt" not in bounds or t < bounds["lt"])
            and ("lte" not in bounds or t <= bounds["lte"])
        )

    return within


def _timestamp(raw: str, param: str) -> int:
    if not re.fullmatch(r"[0-9]{1,12}", raw):
        raise FormError(f"Invalid integer: {raw}", param, "parameter_invalid_integer")
    return int(raw)


def _type_filter(form: Form) -> Filter | None:
    single = form.string("type") or None
    many = form.array("types")
    if single is not None and many is not None:
        raise InvalidRequest("You may only specify one of these parameters: type, types.")
    if many is not None:
        if not 1 <= len(many) <= MAX_TYPES:
            raise FormError(
                f"Invalid array: types must have between 1 and {MAX_TYPES} items.", "types"
            )
        names = frozenset(many)
        return lambda event: event.type in names
    if single is None:
        return None
    # `*` stands for any run of characters; everything else is literal.
    pattern = re.compile(".*".join(re.escape(part) for part in single.split("*")))
    return lambda event: pattern.fullmatch(event.type) is not None
