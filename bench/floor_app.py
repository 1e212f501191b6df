"""The floor: a bare Starlette app with one JSON route, served exactly as the service is.

It uses ``checkout.serve.uvicorn_config`` and the same uvloop runner as ``checkout serve``,
so the gap between this and a service route is the service's own work.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from checkout.serve import uvicorn_config

READY = "floor listener ready on"


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


app = Starlette(routes=[Route("/", hello)])


async def _serve(host: str, port: int) -> None:
    server = uvicorn.Server(uvicorn_config(app, host, port))
    task = asyncio.create_task(server.serve())
    for _ in range(3000):  # at most ~30 s
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        await task
        raise SystemExit("floor: the listener did not start")
    print(f"{READY} http://{host}:{port}", flush=True)
    await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
