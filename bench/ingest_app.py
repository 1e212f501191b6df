"""The public listener alone, for measuring webhook ingestion (verify, store, answer 200).

The same factory, middleware and uvicorn settings as ``checkout serve``'s public listener,
configured from the same environment, but with no worker loop in the process:
``checkout serve`` would start applying the events while they arrive, and the row would
measure ingestion and processing at once (processing has rows of its own).
"""

from __future__ import annotations

from bench import serving
from checkout.config import load_settings
from checkout.context import build_context
from checkout.logs import configure_logging
from checkout.web.factory import create_public_app

READY = "ingest listener ready on"


async def _serve(host: str, port: int) -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    ctx = build_context(settings)
    try:
        await serving.serve(create_public_app(ctx), host, port, READY, "ingest")
    finally:
        await ctx.aclose()


def main(argv: list[str] | None = None) -> int:
    return serving.main("python -m bench.ingest_app", argv, _serve)


if __name__ == "__main__":
    raise SystemExit(main())
