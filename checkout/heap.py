"""The long-lived heap, set aside from the garbage collector once a process is up.

A running service holds a large heap that never becomes garbage: modules, SQLAlchemy's
tables and compiled statements, pydantic schemas, the route tables. CPython's cyclic
collector walks all of it in every full collection, and under load those collections
came every few seconds and took tens of milliseconds each, on the event loop: in the
webhook ingestion benchmark they were a tenth of the CPU and the whole of p99 (90 ms;
15 ms after this). ``gc.freeze()`` moves every object alive at that moment into a
permanent generation the collector no longer visits, so collections walk only what
requests created since. The price is that a startup object which later becomes cyclic
garbage is never freed: a bounded, one-time amount, where the collection before the
freeze has already freed everything that was garbage by then.
"""

from __future__ import annotations

import gc


def settle() -> int:
    """Collect once, then freeze what is left; how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
