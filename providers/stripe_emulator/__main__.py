"""Run the Stripe emulator on its own: ``python -m providers.stripe_emulator --port 8010``.

``checkout serve`` starts it in-process in dev; running it apart is for measuring the
service alone (the benchmark) or pointing several service processes at one emulator.
"""

from __future__ import annotations

import argparse

from providers.emulator_runner import serve
from providers.stripe_emulator.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m providers.stripe_emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--secret-key", default="sk_test_emulator_dev")
    parser.add_argument("--publishable-key", default="pk_test_emulator_dev")
    args = parser.parse_args(argv)
    # The public origin is only known for a fixed port; port 0 is for tests of the runner.
    app = create_app(
        secret_key=args.secret_key,
        publishable_key=args.publishable_key,
        public_base_url=f"http://{args.host}:{args.port}",
    )
    serve(app, name="stripe emulator", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
