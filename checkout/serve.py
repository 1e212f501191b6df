"""``checkout serve``: both listeners, the worker loop and, in dev, the Stripe and PayPal
emulators (each delivering signed webhooks to our public listener) and the demo
storefront, in one process on one event loop.

Uvicorn's per-server signal capture is replaced by one handler that stops every server
together, so Ctrl-C ends the whole set cleanly. A listener that fails to bind ends the
others too, rather than leaving half a service running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Generator, Sequence

import uvicorn
from starlette.types import ASGIApp

from checkout import heap, paypal_dev
from checkout.config import Settings, is_loopback
from checkout.context import AppContext, build_context
from checkout.db.migrate import pending, upgrade
from checkout.devguide import walkthrough
from checkout.netconfig import HEADER_TIMEOUT, TlsFiles
from checkout.storefront import SDK_ROOT, StorefrontConfig, create_storefront_app
from checkout.tls import uvicorn_tls
from checkout.web.factory import create_private_app, create_public_app
from checkout.web.http_protocol import protocol_class
from checkout.worker import worker_for

log = logging.getLogger("checkout.serve")


class SchemaOutOfDate(Exception):
    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(
            f"the database schema is at {current}, this release needs {head}: "
            "run `checkout migrate` first"
        )


class PrivateBindRefused(Exception):
    def __init__(self, host: str) -> None:
        super().__init__(
            f"the private listener would bind {host or 'every interface'!r}, which is not "
            "loopback; set CHECKOUT_PRIVATE_HOST to the address to expose it on"
        )


def check_private_bind(settings: Settings) -> None:
    """The private listener (API keys, customer data, metrics) binds loopback unless an
    operator named another address in CHECKOUT_PRIVATE_HOST. An empty value (a template
    left unfilled) would bind every interface, so it is refused, not obeyed."""
    if is_loopback(settings.private_host):
        return
    if settings.private_host_explicit and settings.private_host.strip():
        return
    raise PrivateBindRefused(settings.private_host)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    @property
    def bound_port(self) -> int:
        return int(self.servers[0].sockets[0].getsockname()[1])


def uvicorn_config(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    tls: TlsFiles | None = None,
    trusted_proxies: Sequence[str] = (),
    header_timeout: float = HEADER_TIMEOUT,
) -> uvicorn.Config:
    """The uvicorn settings every listener (and the benchmark floor) uses.

    The head of a request is bounded in size (``h11_max_incomplete_event_size``, which
    checkout/web/http_protocol.py applies to httptools too) and in time; TLS follows
    checkout/tls.py; ``X-Forwarded-*`` is believed only from the trusted proxies.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_class(header_timeout),
        loop="none",
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies),
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
        **uvicorn_tls(tls),
    )


class Service:
    """The running set of servers; ``stop()`` ends them all."""

    def __init__(self, settings: Settings, announce: Callable[[str], None]) -> None:
        self.settings = settings
        self.announce = announce
        self.stop_event = asyncio.Event()
        self.servers: list[_Server] = []
        self.ctx: AppContext | None = None

    def stop(self) -> None:
        self.stop_event.set()
        for server in self.servers:
            server.should_exit = True

    async def _start(
        self, name: str, app: ASGIApp, host: str, port: int, tls: TlsFiles | None = None
    ) -> asyncio.Task[None]:
        net = self.settings.network
        config = uvicorn_config(
            app,
            host,
            port,
            tls=tls,
            trusted_proxies=net.trusted_proxies,
            header_timeout=net.header_timeout,
        )
        server = _Server(config)
        self.servers.append(server)
        task = asyncio.create_task(server.serve(), name=name)
        while not server.started:
            if task.done():
                task.result()  # re-raise the bind failure
                raise RuntimeError(f"{name} stopped during start-up")
            await asyncio.sleep(0.01)
        scheme = "https" if tls else "http"
        self.announce(f"{name} ready on {scheme}://{host}:{server.bound_port}")
        return task

    async def _stripe_emulator(self, tasks: list[asyncio.Task[None]]) -> str:
        """The Stripe emulator (dev): started, its task added; its base URL."""
        from providers.stripe_emulator import create_app as stripe_emulator

        s = self.settings
        base = f"http://127.0.0.1:{s.stripe_emulator_port}"
        # It delivers its webhooks to our own public listener, signed with the
        # first configured secret: the dev loop exercises the whole inbox path.
        hook_url = (
            f"http://{s.public_host}:{s.public_port}/webhooks/stripe"
            if s.public_port and s.stripe_webhook_secrets
            else None
        )
        app = stripe_emulator(
            secret_key=str(s.stripe_secret_key),
            publishable_key=s.stripe_publishable_key,
            public_base_url=base,
            webhook_url=hook_url,
            webhook_secret=str(s.stripe_webhook_secrets[0]) if hook_url else None,
        )
        tasks.append(await self._start("stripe emulator", app, "127.0.0.1", s.stripe_emulator_port))
        return f"http://127.0.0.1:{self.servers[-1].bound_port}"

    async def _paypal_emulator(self, tasks: list[asyncio.Task[None]]) -> str:
        """The PayPal emulator (dev): started, its task added; its base URL."""
        from providers.paypal_emulator import create_app as paypal_emulator

        s = self.settings
        base = f"http://127.0.0.1:{s.paypal_emulator_port}"
        # Like the Stripe emulator, it delivers to our own public listener. It signs
        # with the test PKI kept in the data dir (made here, once), which the
        # verifier that build_context makes trusts, with the certificate pinned.
        pki_dir = s.paypal_dev_pki if s.public_port else None
        signing = (
            await asyncio.to_thread(paypal_dev.ensure_identity, pki_dir)
            if pki_dir is not None
            else None
        )
        app = paypal_emulator(
            client_id=s.paypal_client_id,
            client_secret=str(s.paypal_client_secret),
            public_base_url=base,
            webhook_url=(
                f"http://{s.public_host}:{s.public_port}/webhooks/paypal" if signing else None
            ),
            webhook_id=s.paypal_webhook_id,
            signing=signing,
        )
        tasks.append(await self._start("paypal emulator", app, "127.0.0.1", s.paypal_emulator_port))
        return f"http://127.0.0.1:{self.servers[-1].bound_port}"

    async def run(self) -> None:
        s = self.settings
        check_private_bind(s)  # before anything binds
        tasks: list[asyncio.Task[None]] = []
        try:
            storefront_url = None
            stripe_base = await self._stripe_emulator(tasks) if s.run_stripe_emulator else None
            paypal_base = await self._paypal_emulator(tasks) if s.run_paypal_emulator else None
            self.ctx = ctx = build_context(
                s, stripe_api_base=stripe_base, paypal_api_base=paypal_base
            )
            if not s.is_production:
                await asyncio.to_thread(upgrade, ctx.db.engine)
            else:
                # Production migrates as its own step (several processes share a database);
                # serving against an older schema would fail request by request instead.
                current, head = await asyncio.to_thread(pending, ctx.db.engine)
                if head is not None:
                    raise SchemaOutOfDate(current, head)
            tasks.append(
                await self._start(
                    "public listener",
                    create_public_app(ctx),
                    s.public_host,
                    s.public_port,
                    s.network.public_tls,
                )
            )
            public_port = self.servers[-1].bound_port
            tasks.append(
                await self._start(
                    "private listener",
                    create_private_app(ctx),
                    s.private_host,
                    s.private_port,
                    s.network.private_tls,
                )
            )
            if not s.is_production and SDK_ROOT.is_dir():
                api_host = "127.0.0.1" if s.public_host in ("0.0.0.0", "::") else s.public_host  # noqa: S104
                storefront = create_storefront_app(
                    StorefrontConfig(
                        api_base=f"http://{api_host}:{public_port}",
                        publishable_key=s.stripe_publishable_key,
                        hosted_fields_url=stripe_base,
                    )
                )
                tasks.append(
                    await self._start("storefront", storefront, "127.0.0.1", s.storefront_port)
                )
                storefront_url = f"http://127.0.0.1:{self.servers[-1].bound_port}"
            # Everything long-lived exists now: apps, context, emulators (checkout/heap.py).
            heap.settle()
            worker = asyncio.create_task(worker_for(ctx).run(self.stop_event), name="worker")
            tasks.append(worker)
            self.announce("worker loop running")
            if not s.is_production:
                self.announce(walkthrough(s, stripe_base or s.stripe_api_base, storefront_url))
            await asyncio.wait(
                [*tasks, asyncio.create_task(self.stop_event.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            self.stop()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            if self.ctx is not None:
                await self.ctx.aclose()
            for result in results:
                if isinstance(result, BaseException) and not isinstance(
                    result, asyncio.CancelledError
                ):
                    log.error("component failed", extra={"error_type": type(result).__name__})


def run_service(settings: Settings) -> int:
    def announce(line: str) -> None:
        print(line, flush=True)

    async def main() -> None:
        service = Service(settings, announce)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        await service.run()

    try:
        _runner(main)
    except (SchemaOutOfDate, PrivateBindRefused) as exc:
        print(f"checkout: cannot start: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # uvicorn exits on a failed bind
        return int(exc.code or 1)
    except OSError as exc:
        print(f"checkout: cannot start: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def _runner(main: Callable[[], object]) -> None:
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())  # type: ignore[arg-type]
