"""Which database errors are answered 503 (the database is away) and which stay 500s."""

from __future__ import annotations

import asyncio

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from checkout.db.outage import database_unavailable
from checkout.web.error_map import as_api_error, exception_handlers
from checkout.web.errors import ServiceUnavailable


class _DriverError(Exception):
    pass


def _wrapped(kind: type[sa.exc.DBAPIError], *, invalidated: bool = False) -> sa.exc.DBAPIError:
    return kind("SELECT 1", {}, _DriverError("boom"), connection_invalidated=invalidated)


def test_a_refused_or_dropped_connection_and_an_exhausted_pool_mean_unavailable() -> None:
    assert database_unavailable(_wrapped(sa.exc.OperationalError))
    assert database_unavailable(_wrapped(sa.exc.InterfaceError))
    assert database_unavailable(_wrapped(sa.exc.DatabaseError, invalidated=True))
    assert database_unavailable(sa.exc.TimeoutError("QueuePool limit reached"))


def test_constraint_and_programming_errors_stay_bugs() -> None:
    assert not database_unavailable(_wrapped(sa.exc.IntegrityError))
    assert not database_unavailable(_wrapped(sa.exc.ProgrammingError))
    assert not database_unavailable(sa.exc.ArgumentError("bad"))
    assert not database_unavailable(ValueError("x"))
    assert as_api_error(_wrapped(sa.exc.IntegrityError)) is None


def test_an_unavailable_database_is_answered_503_in_the_error_format() -> None:
    mapped = as_api_error(_wrapped(sa.exc.OperationalError))
    assert isinstance(mapped, ServiceUnavailable)
    assert mapped.status == 503 and mapped.headers == {"Retry-After": "1"}

    async def down(request: Request) -> Response:
        raise _wrapped(sa.exc.OperationalError)

    async def bug(request: Request) -> Response:
        raise _wrapped(sa.exc.IntegrityError)

    app = Starlette(
        routes=[Route("/down", down), Route("/bug", bug)],
        exception_handlers=exception_handlers(),
    )

    async def ask(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path)

    r = asyncio.run(ask("/down"))
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "service_unavailable"
    assert asyncio.run(ask("/bug")).status_code == 500
