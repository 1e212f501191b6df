"""Routes of the private listener: health and metrics (integrations arrive with staff)."""

from __future__ import annotations

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkout.context import AppContext
from checkout.web.errors import ServiceUnavailable
from checkout.web.jsonio import json_response


class PrivateEndpoints:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]

    async def healthz(self, request: Request) -> Response:
        def ping() -> None:
            with self.ctx.db.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))

        try:
            await self.ctx.uow.run(ping)
        except sa.exc.SQLAlchemyError:
            raise ServiceUnavailable("The database does not answer.") from None
        return json_response({"status": "ok", "database": "ok"})

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.ctx.registry), media_type=CONTENT_TYPE_LATEST)


def private_routes(ctx: AppContext) -> list[BaseRoute]:
    return PrivateEndpoints(ctx).routes()
