"""The account's events, kept as Stripe keeps them, and paged as `GET /v1/events` pages.

Every event is kept whether or not a webhook endpoint is configured: the list is how an
integration finds what its endpoint missed. Stripe keeps thirty days; the emulator keeps
the newest `MAX_EVENTS`, which is the same promise for a process that lives hours.

The list is newest first. `starting_after` walks towards older events, `ending_before`
towards newer ones (the page closest to the cursor, still newest first), which is what
the SDK's auto-paging expects in both directions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

MAX_EVENTS = 20_000


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    created: int
    # The event as delivered to webhook endpoints (compact JSON); listing parses it back.
    payload: bytes


class EventLog:
    """Events oldest first; positions are sequence numbers, so evicting old events never
    moves a cursor onto another event. Guarded by the state lock like the rest."""

    def __init__(self, limit: int = MAX_EVENTS) -> None:
        self._limit = limit
        self._events: list[Event] = []
        self._first_seq = 0  # sequence number of _events[0]
        self._seq: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: Event) -> None:
        self._seq[event.id] = self._first_seq + len(self._events)
        self._events.append(event)
        # Evict in chunks: deleting from the front of a list is linear.
        if len(self._events) > self._limit + self._limit // 10:
            drop = len(self._events) - self._limit
            for gone in self._events[:drop]:
                del self._seq[gone.id]
            del self._events[:drop]
            self._first_seq += drop

    def get(self, event_id: str) -> Event | None:
        index = self._index(event_id)
        return None if index is None else self._events[index]

    def _index(self, event_id: str) -> int | None:
        seq = self._seq.get(event_id)
        return None if seq is None else seq - self._first_seq

    def page(
        self,
        *,
        limit: int,
        matches: Callable[[Event], bool],
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> tuple[list[Event], bool]:
        """Up to `limit` matching events, newest first, and whether more lie beyond them
        in the direction of travel. A cursor must name a kept event (KeyError)."""
        events = self._events
        if ending_before is not None:
            start = self._require(ending_before) + 1
            newer = (events[i] for i in range(start, len(events)))
            page, more = _take(newer, matches, limit)
            return page[::-1], more
        end = len(events) if starting_after is None else self._require(starting_after)
        return _take((events[i] for i in range(end - 1, -1, -1)), matches, limit)

    def _require(self, event_id: str) -> int:
        index = self._index(event_id)
        if index is None:
            raise KeyError(event_id)
        return index


def _take(
    events: Iterator[Event], matches: Callable[[Event], bool], limit: int
) -> tuple[list[Event], bool]:
    taken: list[Event] = []
    for event in events:
        if not matches(event):
            continue
        if len(taken) == limit:
            return taken, True
        taken.append(event)
    return taken, False
