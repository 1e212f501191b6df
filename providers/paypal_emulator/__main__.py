"""Run the PayPal emulator on its own: ``python -m providers.paypal_emulator --port 8011``.

``checkout serve`` starts it in-process in dev; running it apart is for measuring the
service alone or pointing several service processes at one emulator. The default
credentials are the ones ``checkout`` uses in dev.
"""

from __future__ import annotations

import argparse

from providers.emulator_runner import serve
from providers.paypal_emulator.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m providers.paypal_emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--client-id", default="emulator-dev-client")
    parser.add_argument("--client-secret", default="emulator-dev-secret")
    args = parser.parse_args(argv)
    # The public origin (approve links) is only known for a fixed port; port 0 is for
    # tests of the runner.
    app = create_app(
        client_id=args.client_id,
        client_secret=args.client_secret,
        public_base_url=f"http://{args.host}:{args.port}",
    )
    serve(app, name="paypal emulator", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
