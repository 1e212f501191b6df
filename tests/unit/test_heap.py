"""checkout/heap.py: what is alive at startup leaves the collector's walks."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from checkout import heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session keeps its ordinary collector


def test_settling_freezes_what_is_alive_and_collects_garbage_first(unfrozen: None) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    kept = Node()
    Node()  # a cycle that is garbage already: collected, not frozen
    frozen = heap.settle()
    assert frozen == gc.get_freeze_count() > 0
    # Frozen objects are in no generation the collector walks.
    assert not any(o is kept for o in gc.get_objects())
    after = Node()
    assert any(o is after for o in gc.get_objects())
