"""The floor: a bare Starlette app with one JSON route, served exactly as the service is.

It uses ``checkout.serve.uvicorn_config`` and the same uvloop runner as ``checkout serve``
(``bench.serving``), so the gap between this and a service route is the service's own work.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench import serving

READY = "floor listener ready on"


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


app = Starlette(routes=[Route("/", hello)])


async def _serve(host: str, port: int) -> None:
    await serving.serve(app, host, port, READY, "floor")


def main(argv: list[str] | None = None) -> int:
    return serving.main("python -m bench.floor_app", argv, _serve)


if __name__ == "__main__":
    raise SystemExit(main())
