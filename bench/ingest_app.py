"""The public listener alone, for measuring webhook ingestion (verify, store, answer 200).

The same factory, middleware and uvicorn settings as ``checkout serve``'s public listener,
configured from the same environment, but with no worker loop in the process:
``checkout serve`` would start applying the events while they arrive, and the row would
measure ingestion and processing at once (processing has rows of its own).
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
import uvloop

from checkout.config import load_settings
from checkout.context import build_context
from checkout.logs import configure_logging
from checkout.serve import uvicorn_config
from checkout.web.factory import create_public_app

READY = "ingest listener ready on"


async def _serve(host: str, port: int) -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    ctx = build_context(settings)
    server = uvicorn.Server(uvicorn_config(create_public_app(ctx), host, port))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(3000):  # at most ~30 s
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            server.should_exit = True
            await task
            raise SystemExit("ingest: the listener did not start")
        print(f"{READY} http://{host}:{port}", flush=True)
        await task
    finally:
        await ctx.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
