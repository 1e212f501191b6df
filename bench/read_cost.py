"""What decrypting costs a customer's read: CPU time per request, vault against none.

The wrk rows of the ``me`` part give ``GET /v1/me`` and ``GET /v1/me/orders`` as ratios of
the floor, but two wrk runs of the *same* server on this shared machine differ by up to
10% in req/s and in CPU time per request, so a few percent of cipher cost cannot be read
from them. Here both listeners' apps (the same factory, over the same data dirs the wrk
rows used, one with the vault, one with ``bench.me_app``'s encryption-off vault) run in
this one process and are called directly through ASGI, in alternating blocks of requests,
each block timed in process CPU time. Side by side, a fraction of a second apart, both see
the same machine; the figure is the median over blocks of vault / none - 1. Leaving out
the HTTP parsing (the same for both) makes the request cheaper, so the share of the
cipher comes out larger than over a socket, never smaller.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message

from bench.errors import BenchError
from bench.me_app import PlainVault
from checkout.config import load_settings
from checkout.context import AppContext, build_context, build_vault
from checkout.web.factory import create_public_app

BLOCKS = 30  # pairs of blocks per path
PER_BLOCK = 100  # requests per block
WARMUP = 200  # requests per app and path before timing (caches, SQLite pages)


@dataclass(frozen=True)
class ReadCost:
    path: str
    vault_us: float  # median CPU µs per request
    plain_us: float
    cost: float  # median over block pairs of vault / plain - 1


@dataclass(frozen=True)
class Reader:
    """A customer's data dir and bearer token, as the wrk rows used them."""

    env: Mapping[str, str]
    token: str
    plain: bool


async def _get(app: ASGIApp, path: str, token: str) -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    asked = False
    statuses: list[int] = []

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # no disconnect: the app answers first
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        raise BenchError(f"in-process GET {path} answered {statuses}, not 200")


async def _block(app: ASGIApp, path: str, token: str, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        await _get(app, path, token)
    return (time.process_time() - started) / n * 1e6


async def _measure(apps: dict[bool, tuple[ASGIApp, str]], paths: tuple[str, ...]) -> list[ReadCost]:
    out: list[ReadCost] = []
    for path in paths:
        for app, token in apps.values():
            for _ in range(WARMUP):
                await _get(app, path, token)
        costs: list[float] = []
        times: dict[bool, list[float]] = {True: [], False: []}
        for n in range(BLOCKS):
            # Alternate who goes first, so a drift inside a pair favours neither.
            order = (False, True) if n % 2 else (True, False)
            block = {}
            for plain in order:
                app, token = apps[plain]
                block[plain] = await _block(app, path, token, PER_BLOCK)
                times[plain].append(block[plain])
            costs.append(block[False] / block[True] - 1.0)
        out.append(
            ReadCost(
                path=path,
                vault_us=statistics.median(times[False]),
                plain_us=statistics.median(times[True]),
                cost=statistics.median(costs),
            )
        )
    return out


def read_costs(readers: list[Reader], paths: tuple[str, ...]) -> list[ReadCost]:
    """Both apps built as ``bench.me_app`` builds them (with and without the vault), run
    here; their servers must be stopped (they share the data dirs)."""
    if sorted(r.plain for r in readers) != [False, True]:
        raise BenchError("the read cost needs one reader with the vault and one without")
    contexts: list[AppContext] = []
    apps: dict[bool, tuple[ASGIApp, str]] = {}

    async def run() -> list[ReadCost]:
        try:
            for reader in readers:
                settings = load_settings(reader.env)
                vault = PlainVault(build_vault(settings).keys) if reader.plain else None
                ctx = build_context(settings, vault=vault)
                contexts.append(ctx)
                apps[reader.plain] = (create_public_app(ctx), reader.token)
            return await _measure(apps, paths)
        finally:
            for ctx in contexts:
                await ctx.aclose()

    return asyncio.run(run())
