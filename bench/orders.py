"""The ``orders`` part: ``GET /staff/v1/orders`` (issue 6's goal) and
``GET /s2s/v1/orders`` at 10,000 and at 1,000,000 orders on PostgreSQL.

For each size: a fresh schema in the ``bench_orders`` database of the ``--postgres-url``
server (created if missing; never the database the URL names), ``checkout migrate``,
``bench/seed_orders.py`` (the service's own keys), an ``orders:read`` API key and a
``fulfillment`` staff member (``checkout staff create``; signed in over HTTP with a TOTP
code computed from the enrolment URI's secret, as an authenticator app would), the plans
of the four queries (``EXPLAIN``: a Seq Scan on orders fails the run), then
``checkout serve`` and wrk on each listener: the first page, a deep page
(``starting_after`` an order 90 % of the way down), a status filter (``authorized``, 5 %
of orders) and an email search (``q=<email>``, ~200 orders per email at 1M). Both APIs
read through the same listing service; the staff member sees the ``FULFILLMENT``
disclosure, as the API key does, and each answer writes one audit event. Goal: each
query's p50 at 1M within 2x of its p50 at 10k.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import sqlalchemy as sa

from bench import report
from bench.errors import BenchError
from bench.postgres import bench_schema
from bench.procs import run_step
from bench.seed_orders import seed_from_environment
from bench.wrk import WrkResult
from checkout.access.totp import TotpKey, decode_secret, step_of
from checkout.config import load_settings
from checkout.context import build_blind_index
from checkout.db.explain import explain
from checkout.store.order_listing import Cursor, OrderFilter, page_query

if TYPE_CHECKING:
    from bench.runner import Bench

DATABASE = "bench_orders"
SCALES = (10_000, 1_000_000)
EMAILS = 5000
QUERIES = ("first", "deep", "status", "email")
# Which API, its listener (a key of ``start_service_urls``) and its path.
APIS = {"staff": ("api", "/staff/v1/orders"), "s2s": ("private", "/s2s/v1/orders")}
STAFF_EMAIL = "bench-orders@bench.example"
STAFF_ROLE = "fulfillment"
_LABELS = {
    "first": "first page",
    "deep": "deep page (starting_after 90% down)",
    "status": "status=authorized",
    "email": "q=<email> (blind index)",
}
GOAL_FACTOR = 2.0


@dataclass
class OrdersResult:
    rows: dict[str, report.Row] = field(default_factory=dict)  # key: row_key(...)
    plans: dict[str, list[str]] = field(default_factory=dict)  # key: plan_key(...)
    seed_rates: dict[int, float] = field(default_factory=dict)


def row_key(api: str, query: str, scale: int) -> str:
    return f"orders_{api}_{query}_{scale}"


def plan_key(query: str, scale: int) -> str:
    return f"orders_{query}_{scale}"


def bench_database_url(base_url: str) -> str:
    """``base_url`` pointed at the ``bench_orders`` database, created if missing."""
    url = sa.make_url(base_url)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE}
            ).first()
            if exists is None:
                conn.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
    except sa.exc.SQLAlchemyError as exc:
        raise BenchError(f"PostgreSQL at --postgres-url: {type(exc).__name__}") from exc
    finally:
        admin.dispose()
    return url.set(database=DATABASE).render_as_string(hide_password=False)


def write_get_script(path: Path, secret: str) -> Path:
    path.write_text(f'wrk.headers["Authorization"] = "Bearer {secret}"\n')
    return path


def _api_key(cli: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [cli, "api-keys", "create", "--scopes", "orders:read"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    secret = done.stdout.strip()
    if done.returncode != 0 or not secret.startswith("sk_"):
        raise BenchError(f"checkout api-keys create exited {done.returncode}")
    return secret


def _staff_member(cli: str, env: dict[str, str]) -> tuple[str, str]:
    """A new staff member's initial password and TOTP enrolment URI."""
    done = subprocess.run(
        [cli, "staff", "create", "--email", STAFF_EMAIL, "--role", STAFF_ROLE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or len(lines) != 2 or not lines[1].startswith("otpauth://"):
        raise BenchError(f"checkout staff create exited {done.returncode}")
    return lines[0], lines[1]


def totp_now(otpauth_uri: str) -> str:
    secret = parse_qs(urlsplit(otpauth_uri).query)["secret"][0]
    return TotpKey(decode_secret(secret)).code(step_of(datetime.now(UTC)))


def staff_sign_in(public_url: str, password: str, otpauth_uri: str) -> str:
    """A staff bearer token, signed in over HTTP with password and TOTP."""
    body = {"email": STAFF_EMAIL, "password": password, "totp": totp_now(otpauth_uri)}
    try:
        r = httpx.post(f"{public_url}/staff/v1/sessions", json=body, timeout=30)
    except httpx.HTTPError as exc:
        raise BenchError(f"staff sign-in: {type(exc).__name__}") from exc
    if r.status_code != 201:
        raise BenchError(f"staff sign-in answered {r.status_code}")
    return str(r.json()["token"])


@contextmanager
def _engine(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def plans_and_paths(
    url: str, env: dict[str, str], scale: int, email: str
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each query's EXPLAIN and its query string (after either API's path)."""
    digest = build_blind_index(load_settings(env)).email(email)
    with _engine(url) as engine, engine.connect() as conn:
        deep = conn.execute(
            sa.text(
                "SELECT created_at, id FROM orders ORDER BY created_at DESC, id DESC "
                "LIMIT 1 OFFSET :k"
            ),
            {"k": int(scale * 0.9)},
        ).one()
        shapes = {
            "first": (OrderFilter(), None),
            "deep": (OrderFilter(), Cursor(deep.created_at, deep.id)),
            "status": (OrderFilter(status="authorized"), None),
            "email": (OrderFilter(email_index=digest), None),
        }
        plans = {q: explain(conn, page_query(f, c, 20)) for q, (f, c) in shapes.items()}
    paths = {
        "first": "",
        "deep": f"?starting_after={deep.id}",
        "status": "?status=authorized",
        "email": f"?q={quote(email)}",
    }
    return plans, paths


def plan_summary(plan: list[str]) -> str:
    """The plan's node that reads orders (``Index Scan Backward using … on orders``)."""
    for line in plan:
        if " on orders" in line:
            return line.strip().lstrip("-> ").split("  (cost")[0]
    return plan[0].strip() if plan else "-"


def seq_scan_on_orders(plan: list[str]) -> bool:
    return any("Seq Scan on orders" in line for line in plan)


def _row(label: str, result: WrkResult, cpu: float) -> report.Row:
    return report.Row(
        route=label,
        rate=result.rps,
        unit="req/s",
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        ratio=None,
        server_cpu=cpu,
        errors=result.errors,
        timeouts=result.timeouts,
    )


def run_orders(bench: Bench, stripe: str) -> OrdersResult:
    base = bench.args.postgres_url
    out = OrdersResult()
    if not base:
        print("bench: orders part skipped (no --postgres-url)", flush=True)
        return out
    from bench.runner import checkout_cli

    cli = checkout_cli()
    db_url = bench_database_url(base)
    for scale in bench.args.orders_scales:
        with bench_schema(db_url) as schema_url:
            env = bench.service_env(f"orders-{scale}", stripe, schema_url)
            log = bench.tmp / f"orders-{scale}.log"
            run_step("checkout migrate", [cli, "migrate"], env, log)
            print(f"bench: seeding {scale:,} orders ...", flush=True)
            seeded = seed_from_environment(scale, emails=min(EMAILS, scale), env=env)
            out.seed_rates[scale] = seeded.orders / seeded.seconds
            print(
                f"bench: seeded {scale:,} orders in {seeded.seconds:.1f} s "
                f"({out.seed_rates[scale]:,.0f}/s)",
                flush=True,
            )
            secret = _api_key(cli, env)
            password, otpauth_uri = _staff_member(cli, env)
            plans, queries = plans_and_paths(schema_url, env, scale, seeded.emails[42])
            for query, plan in plans.items():
                out.plans[plan_key(query, scale)] = plan
                print(f"bench: plan of {query} at {scale:,}: {plan_summary(plan)}", flush=True)
                if seq_scan_on_orders(plan):
                    bench.failures.append(f"orders {query} at {scale:,}: Seq Scan on orders")
            server, urls = bench.start_service_urls(env, f"orders-{scale}")
            token = staff_sign_in(urls["api"], password, otpauth_uri)
            scripts = {
                "staff": write_get_script(bench.tmp / "orders_staff_get.lua", token),
                "s2s": write_get_script(bench.tmp / "orders_s2s_get.lua", secret),
            }
            for api, (listener, path) in APIS.items():
                for query in QUERIES:
                    label = f"GET {path} {_LABELS[query]}, {scale:,} orders"
                    runs = []
                    for _ in range(bench.args.rounds):
                        result, cpu = bench.measure(
                            label,
                            server,
                            urls[listener] + path + queries[query],
                            scripts[api],
                            0.0,
                            connections=bench.args.orders_connections,
                        )
                        runs.append(_row(label, result, cpu))
                    runs.sort(key=lambda r: r.p50_ms or 0.0)
                    out.rows[row_key(api, query, scale)] = runs[len(runs) // 2]
            server.stop()
    return out


def goals(result: OrdersResult) -> list[report.Goal]:
    found: list[report.Goal] = []
    scales = sorted(result.seed_rates)
    if len(scales) < 2:
        return found
    small, large = scales[0], scales[-1]
    for api, (_, path) in APIS.items():
        for query in QUERIES:
            a = result.rows.get(row_key(api, query, small))
            b = result.rows.get(row_key(api, query, large))
            if a is None or b is None or not a.p50_ms or b.p50_ms is None:
                continue
            factor = b.p50_ms / a.p50_ms
            found.append(
                report.Goal(
                    f"{path} {_LABELS[query]}: p50 at {large:,} <= {GOAL_FACTOR:.0f}x "
                    f"p50 at {small:,}",
                    f"{factor:.2f}x",
                    factor <= GOAL_FACTOR,
                )
            )
    return found
