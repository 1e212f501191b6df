"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), the Stripe
emulator on a real port, and the public and private apps built by the real factories.

Every database-backed test runs once per backend: ``database_url`` is parametrized.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from sqlmodel import SQLModel

# Registers the account tables, which nothing the apps import uses yet, so that every test
# database is emptied of them too.
import customers.tables  # noqa: F401
from checkout.config import (
    DEV_STRIPE_PUBLISHABLE_KEY,
    DEV_STRIPE_SECRET_KEY,
    Settings,
    load_settings,
)
from checkout.context import AppContext, build_context
from checkout.db.engine import make_database
from checkout.db.migrate import upgrade
from checkout.seed import seed_demo_catalog
from checkout.web.factory import create_private_app, create_public_app
from providers.paypal_emulator import create_app as create_paypal_emulator
from providers.stripe_emulator import create_app as create_stripe_emulator

PG_URL = os.environ.get("CHECKOUT_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_sessionstart(session: pytest.Session) -> None:
    if not PG_URL:
        return
    # Set but unreachable is a broken CI, not a reason to skip half the suite.
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        pytest.exit(
            f"CHECKOUT_TEST_DATABASE_URL is set but PostgreSQL does not answer: "
            f"{type(exc).__name__}",
            returncode=3,
        )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pg_url_with_schema(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of one backend for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'checkout.db'}"
        db = make_database(url, pool_size=1)
        upgrade(db.engine)
        db.dispose()
        yield url
        return
    assert PG_URL is not None
    # A schema of our own, so parallel runs and other users of the database never meet.
    schema = f"checkout_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _pg_url_with_schema(PG_URL, schema)
    db = make_database(url, pool_size=1)
    upgrade(db.engine)
    db.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def truncate_all(url: str) -> None:
    db = make_database(url, pool_size=1)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with db.writer.begin() as conn:
        if db.is_postgres:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        else:
            for t in tables:
                conn.execute(sa.text(f'DELETE FROM "{t}"'))
    db.dispose()


@pytest.fixture
def db_url(database_url: str) -> str:
    """The session database, emptied before the test."""
    truncate_all(database_url)
    return database_url


def tokenize(http: httpx.Client, stripe_base: str, number: str = "4242424242424242") -> str:
    """A card turned into a ``pm_…`` token at the emulator, as the provider's iframe would."""
    r = http.post(
        f"{stripe_base}/v1/payment_methods",
        headers={"Authorization": f"Bearer {DEV_STRIPE_PUBLISHABLE_KEY}"},
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
    )
    r.raise_for_status()
    return str(r.json()["id"])


@dataclass
class Emulator:
    base_url: str
    app: Any

    def tokenize(self, number: str = "4242424242424242") -> str:
        with httpx.Client() as http:
            return tokenize(http, self.base_url, number)

    def complete_3ds(self, redirect_url: str, outcome: str = "succeed") -> None:
        url = httpx.URL(redirect_url)
        token = url.params["token"]
        r = httpx.post(
            f"{self.base_url}{url.path}/complete",
            data={"outcome": outcome, "token": token},
            follow_redirects=False,
        )
        assert r.status_code in (200, 303), r.text


@contextmanager
def serve_in_thread(
    make_app: Callable[[str], Any], *, log_level: str | None = None, http: str = "auto"
) -> Iterator[tuple[str, Any]]:
    """Serve ``make_app(base_url)`` with uvicorn on a free loopback port, in a background
    thread. The app is built once the port is bound: the emulators put their own origin
    into the links they hand out (3-D Secure, PayPal approval)."""

    class _Late:
        app: Any = None

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await self.app(scope, receive, send)

    late = _Late()
    config = uvicorn.Config(
        late,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        ws="none",
        http=http,
        log_config=None if log_level is None else uvicorn.config.LOGGING_CONFIG,
        log_level=log_level,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    late.app = make_app(base)
    try:
        yield base, late.app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def stripe_emulator() -> Iterator[Emulator]:
    def make(base: str) -> Any:
        return create_stripe_emulator(
            secret_key=DEV_STRIPE_SECRET_KEY,
            publishable_key=DEV_STRIPE_PUBLISHABLE_KEY,
            public_base_url=base,
        )

    with serve_in_thread(make) as (base, app):
        yield Emulator(base, app)


@dataclass
class PayPalEmulator:
    base_url: str
    app: Any

    def approve(self, order_id: str, action: str = "approve") -> None:
        r = httpx.post(
            f"{self.base_url}/checkoutnow/{order_id}/approve",
            data={"action": action},
            follow_redirects=False,
        )
        assert r.status_code in (200, 303), r.text


PAYPAL_CLIENT = ("test-client", "test-secret")


@pytest.fixture(scope="session")
def paypal_emulator() -> Iterator[PayPalEmulator]:
    def make(base: str) -> Any:
        return create_paypal_emulator(
            client_id=PAYPAL_CLIENT[0], client_secret=PAYPAL_CLIENT[1], public_base_url=base
        )

    with serve_in_thread(make) as (base, app):
        yield PayPalEmulator(base, app)


def make_settings(db_url: str, data_dir: Path, stripe_base: str, **env: str) -> Settings:
    base = {
        "CHECKOUT_ENV": "dev",
        "CHECKOUT_DATA_DIR": str(data_dir),
        "DATABASE_URL": db_url,
        "CHECKOUT_STRIPE_API_BASE": stripe_base,
        "CHECKOUT_STRIPE_SECRET_KEY": DEV_STRIPE_SECRET_KEY,
        "CHECKOUT_PROVIDER_TIMEOUT": "5",
        "CHECKOUT_CATALOG_CACHE_SECONDS": "0",
    }
    base.update(env)
    return load_settings(base)


@pytest.fixture
def settings(
    db_url: str, tmp_path: Path, stripe_emulator: Emulator, paypal_emulator: PayPalEmulator
) -> Settings:
    return make_settings(
        db_url,
        tmp_path / "data",
        stripe_emulator.base_url,
        CHECKOUT_PAYPAL_API_BASE=paypal_emulator.base_url,
        CHECKOUT_PAYPAL_CLIENT_ID=PAYPAL_CLIENT[0],
        CHECKOUT_PAYPAL_CLIENT_SECRET=PAYPAL_CLIENT[1],
    )


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[AppContext]:
    context = build_context(settings)
    seed_demo_catalog(context.catalog)
    try:
        yield context
    finally:
        await context.aclose()


@pytest.fixture
async def manual(
    db_url: str, tmp_path: Path, stripe_emulator: Emulator
) -> AsyncIterator[AppContext]:
    """A context whose payments are authorized, to be captured later."""
    settings = make_settings(
        db_url, tmp_path / "manual", stripe_emulator.base_url, CHECKOUT_CAPTURE_MODE="manual"
    )
    context = build_context(settings)
    seed_demo_catalog(context.catalog)
    try:
        yield context
    finally:
        await context.aclose()


@pytest.fixture
async def api(ctx: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_public_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://public.test") as client:
        yield client


@pytest.fixture
async def private_api(ctx: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_private_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://private.test") as client:
        yield client
