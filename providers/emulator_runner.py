"""Serving an emulator on its own (``python -m providers.stripe_emulator`` and the PayPal
one): uvicorn with quiet defaults, and one ready line once the port is bound, which is what
scripts and the benchmark wait for."""

from __future__ import annotations

import asyncio

import uvicorn
from starlette.types import ASGIApp


def serve(app: ASGIApp, *, name: str, host: str, port: int) -> None:
    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
            await super().startup(sockets)  # type: ignore[arg-type]
            bound = self.servers[0].sockets[0].getsockname()[1]
            print(f"{name} ready on http://{host}:{bound}", flush=True)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="httptools",
        access_log=False,
        lifespan="off",
        server_header=False,
        log_level="warning",
    )
    asyncio.run(_Server(config).serve())
