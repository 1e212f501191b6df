"""A PostgreSQL host that accepts the TCP connection and then says nothing (hung, or its
network half gone): connecting gives up after the engine's connect timeout, with an error
the API answers 503, instead of waiting minutes for the kernel."""

from __future__ import annotations

import socket
import time

import pytest
import sqlalchemy as sa

from checkout.db.engine import make_engine
from checkout.db.outage import database_unavailable


def test_connecting_to_a_silent_database_gives_up_in_seconds() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever answers
        port = silent.getsockname()[1]
        engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
        start = time.monotonic()
        with pytest.raises(sa.exc.OperationalError) as raised, engine.connect():
            pass
        waited = time.monotonic() - start
        engine.dispose()
    assert database_unavailable(raised.value)
    assert waited < 15  # the connect timeout (5 s), not the kernel's minutes


def test_a_connect_timeout_in_the_url_wins() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres?connect_timeout=1"
        engine = make_engine(url)
        start = time.monotonic()
        with pytest.raises(sa.exc.OperationalError), engine.connect():
            pass
        engine.dispose()
    assert time.monotonic() - start < 4.5
