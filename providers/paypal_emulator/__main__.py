"""Run the PayPal emulator on its own: ``python -m providers.paypal_emulator --port 8011``.

``checkout serve`` starts it in-process in dev; running it apart is for measuring the
service alone (the benchmark) or pointing several service processes at one emulator.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from providers.paypal_emulator.app import create_app


class _Server(uvicorn.Server):
    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets)  # type: ignore[arg-type]
        port = self.servers[0].sockets[0].getsockname()[1]
        print(f"paypal emulator ready on http://{self.config.host}:{port}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m providers.paypal_emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--client-id", default="emulator-client-id-dev")
    parser.add_argument("--client-secret", default="emulator-client-secret-dev")
    args = parser.parse_args(argv)
    # The public origin (approve links) is only known for a fixed port; port 0 is for
    # tests of the runner.
    app = create_app(
        client_id=args.client_id,
        client_secret=args.client_secret,
        public_base_url=f"http://{args.host}:{args.port}",
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        http="httptools",
        access_log=False,
        lifespan="off",
        server_header=False,
        log_level="warning",
    )
    asyncio.run(_Server(config).serve())


if __name__ == "__main__":
    main()
