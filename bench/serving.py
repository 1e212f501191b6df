"""Serving one app for a bench run, as ``checkout serve`` does (its uvicorn settings and
uvloop), announcing a ready line the bench waits for. The floor and the ingestion
listener share it, so their only difference is the app."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn
import uvloop
from starlette.types import ASGIApp

from checkout import heap
from checkout.serve import uvicorn_config


async def serve(app: ASGIApp, host: str, port: int, ready: str, name: str) -> None:
    # As ``checkout serve`` does once it is up (checkout/heap.py); the floor too.
    heap.settle()
    server = uvicorn.Server(uvicorn_config(app, host, port))
    task = asyncio.create_task(server.serve())
    for _ in range(3000):  # at most ~30 s
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        await task
        raise SystemExit(f"{name}: the listener did not start")
    print(f"{ready} http://{host}:{port}", flush=True)
    await task


def main(
    prog: str, argv: list[str] | None, run: Callable[[str, int], Coroutine[Any, Any, None]]
) -> int:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run(args.host, args.port))
    return 0
