"""One bench run: start the servers, measure each part, hand back the rows.

Parts (``--only``): ``routes`` (floor, products, checkout creation), ``ingest`` (Stripe
webhook ingestion), ``flow`` (the full guest checkout), ``drain`` (the inbox worker on
SQLite, and on PostgreSQL when a server is given), ``vault`` (key rotation rate and the
sign-in password check), ``me`` (a signed-in customer's ``GET /v1/me`` and
``GET /v1/me/orders``, with the vault on and, to price it, off), and, only when asked
for, ``orders`` (the private order list at 10,000 and 1,000,000 orders on PostgreSQL;
``bench/orders.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import report
from bench.customer import prepare_customer
from bench.drain import DrainResult, InboxDatabase, drain, events_for, refund_each
from bench.errors import BenchError
from bench.floor_app import READY as FLOOR_READY
from bench.flow import FlowFailed, FlowResult, make_purchases, percentile, run_flow
from bench.ingest_app import READY as INGEST_READY
from bench.me_app import READY as ME_READY
from bench.orders import OrdersResult, run_orders
from bench.postgres import bench_schema
from bench.procs import Server, Servers, free_port, run_step
from bench.read_cost import Reader, read_costs
from bench.stripe_events import HOOK_SECRET, write_pool
from bench.vault import rotation_rate, sign_in_latency
from bench.wrk import TIMEOUT_S, WrkResult, run_wrk, write_get_script, write_post_script

PUBLISHABLE_KEY = "pk_test_emulator_dev"
BENCH_RATE_LIMITS = ",".join(
    f"{group}=1000000000/1" for group in ("sign_in", "checkout_create", "payment", "webhook")
)
PARTS = ("routes", "ingest", "me", "flow", "drain", "vault", "orders")
ME_ORDERS = 10  # the customer's order history (GET /v1/me/orders returns them all)
# A run without --only (``make bench``): the whole set, in one table. The orders part
# (seeding a million orders takes minutes) runs when a PostgreSQL server is given, as
# the two-worker drain does, and says it was skipped otherwise.
DEFAULT_PARTS = PARTS
_URL = r"(http://127\.0\.0\.1:\d+)"
EVENTS_PER_PAYMENT = 5

# A wrk script, or one made afresh for each run from (seconds, floor req/s of the round).
Script = Path | Callable[[int, float], Path] | None


def clean_env() -> dict[str, str]:
    """The caller's environment minus anything that would point the service elsewhere."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CHECKOUT_") and k not in {"DATABASE_URL", "PYTHONPATH"}
    }


def checkout_cli() -> str:
    beside = Path(sys.executable).parent / "checkout"
    if beside.exists():
        return str(beside)
    raise BenchError(f"no `checkout` command next to {sys.executable}; install the project")


def _wrk_row(label: str, result: WrkResult, cpu: float, floor_rps: float | None) -> report.Row:
    return report.Row(
        route=label,
        rate=result.rps,
        unit="req/s",
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        ratio=result.rps / floor_rps if floor_rps else 1.0,
        server_cpu=cpu,
        errors=result.errors,
        timeouts=result.timeouts,
        cpu_per_request=cpu * result.seconds / result.requests if result.requests else None,
    )


def _median(rows: list[report.Row]) -> report.Row:
    """The row of the median round, by ratio to the floor (by rate where there is none)."""
    ordered = sorted(rows, key=lambda row: (row.ratio or 0.0, row.rate))
    return ordered[len(ordered) // 2]


class Bench:
    def __init__(self, args: argparse.Namespace, wrk: str, tmp: Path, servers: Servers) -> None:
        self.args = args
        self.wrk = wrk
        self.tmp = tmp
        self.servers = servers
        self.failures: list[str] = []
        self.rows: dict[str, report.Row] = {}
        self.flow: FlowResult | None = None
        self.orders: OrdersResult | None = None
        # Per route with an encryption-off twin: the cipher's cost (``read_cost``).
        self.overheads: dict[str, float] = {}
        self.readers: list[Reader] = []  # the ``me`` part's customers, for read_costs
        self._runs = 0

    # --- servers --------------------------------------------------------------------------

    def start_floor(self) -> tuple[Server, str]:
        port = free_port()
        env = clean_env()
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        server = self.servers.start(
            "floor",
            [sys.executable, "-m", "bench.floor_app", "--port", str(port)],
            env,
            self.tmp / "floor.log",
        )
        url = server.wait_ready({"floor": re.escape(FLOOR_READY) + " " + _URL})["floor"]
        print(f"bench: floor ready on {url} (pid {server.pid})")
        return server, url

    def start_emulator(self) -> str:
        """The Stripe emulator in a process of its own, as the real Stripe is: the figures
        are the service's, not the emulator's."""
        port = free_port()
        emulator = self.servers.start(
            "stripe emulator",
            [sys.executable, "-m", "providers.stripe_emulator", "--port", str(port)],
            clean_env(),
            self.tmp / "emulator.log",
        )
        url = emulator.wait_ready({"stripe": r"stripe emulator ready on " + _URL})["stripe"]
        print(f"bench: stripe emulator ready on {url} (pid {emulator.pid})", flush=True)
        return url

    def service_env(self, name: str, stripe: str, database_url: str | None) -> dict[str, str]:
        env = clean_env()
        env.update(
            CHECKOUT_ENV="dev",
            CHECKOUT_DATA_DIR=str(self.tmp / name),
            CHECKOUT_PUBLIC_PORT=str(free_port()),
            CHECKOUT_PRIVATE_PORT=str(free_port()),
            CHECKOUT_STRIPE_API_BASE=stripe,
            CHECKOUT_STRIPE_SECRET_KEY="sk_test_emulator_dev",
            CHECKOUT_STRIPE_WEBHOOK_SECRETS=HOOK_SECRET,
            # The in-process PayPal emulator is idle here; a free port keeps it from
            # clashing with anything on its default one.
            CHECKOUT_PAYPAL_EMULATOR_PORT=str(free_port()),
            # wrk drives thousands of requests a second from one address: limits no bench
            # reaches, so the rows measure the routes while still paying the limiter's cost.
            CHECKOUT_RATE_LIMITS=BENCH_RATE_LIMITS,
        )
        if database_url is not None:
            env["DATABASE_URL"] = database_url
        return env

    def start_service(self, env: dict[str, str], name: str) -> tuple[Server, str]:
        server, urls = self.start_service_urls(env, name)
        return server, urls["api"]

    def start_service_urls(self, env: dict[str, str], name: str) -> tuple[Server, dict[str, str]]:
        """The service and its listeners' URLs (``api``, ``private``)."""
        cli, log = checkout_cli(), self.tmp / f"{name}.log"
        print(f"bench: checkout migrate && checkout seed && checkout serve ({name})", flush=True)
        run_step("checkout migrate", [cli, "migrate"], env, log)
        run_step("checkout seed", [cli, "seed"], env, log)
        server = self.servers.start(f"checkout serve ({name})", [cli, "serve"], env, log)
        urls = server.wait_ready(
            {
                "api": r"public listener ready on " + _URL,
                "private": r"private listener ready on " + _URL,
                "worker": r"(worker loop running)",
            }
        )
        print(f"bench: service ready: api {urls['api']} (pid {server.pid})")
        return server, urls

    def start_ingest(self, stripe: str) -> tuple[Server, str]:
        env = self.service_env("ingest-data", stripe, None)
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        log = self.tmp / "ingest.log"
        run_step("checkout migrate (ingest)", [checkout_cli(), "migrate"], env, log)
        server = self.servers.start(
            "ingest listener",
            [sys.executable, "-m", "bench.ingest_app", "--port", str(free_port())],
            env,
            log,
        )
        url = server.wait_ready({"ingest": re.escape(INGEST_READY) + " " + _URL})["ingest"]
        print(f"bench: ingest listener ready on {url} (pid {server.pid})")
        return server, url

    def start_customer_listener(self, stripe: str, *, plain: bool) -> tuple[Server, str]:
        """``bench.me_app`` (vault on, or off with ``plain``) with a customer made over
        HTTP; the server and the customer's Lua script for wrk."""
        name = "me-plain" if plain else "me-vault"
        env = self.service_env(f"{name}-data", stripe, None)
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        log = self.tmp / f"{name}.log"
        run_step(f"checkout migrate ({name})", [checkout_cli(), "migrate"], env, log)
        run_step(f"checkout seed ({name})", [checkout_cli(), "seed"], env, log)
        argv = [sys.executable, "-m", "bench.me_app", "--port", str(free_port())]
        server = self.servers.start(name, [*argv, *(["--plain"] if plain else [])], env, log)
        url = server.wait_ready({"me": re.escape(ME_READY) + " " + _URL})["me"]
        print(f"bench: {name} listener ready on {url}; a customer with {ME_ORDERS} orders ...")
        try:
            token = prepare_customer(url, stripe, PUBLISHABLE_KEY, orders=ME_ORDERS)
        except FlowFailed as exc:
            raise BenchError(f"{name}: making the customer failed: {exc.kind}") from exc
        write_get_script(self.tmp / f"{name}.lua", {"Authorization": f"Bearer {token}"})
        self.readers.append(Reader(env=env, token=token, plain=plain))
        return server, url

    # --- wrk routes -----------------------------------------------------------------------

    def _script(self, script: Script, seconds: int, floor_rps: float) -> Path | None:
        if script is None or isinstance(script, Path):
            return script
        return script(seconds, floor_rps)

    def measure(
        self,
        label: str,
        server: Server,
        url: str,
        script: Script,
        floor_rps: float,
        *,
        connections: int | None = None,
    ) -> tuple[WrkResult, float]:
        a = self.args
        conns = connections or a.connections
        print(f"bench: {label}: {a.warmup} s warm-up, {a.duration} s measured ...", flush=True)
        if a.warmup:
            lua = self._script(script, a.warmup, floor_rps)
            self._check(f"{label} (warm-up)", run_wrk(self.wrk, url, a.warmup, conns, lua))
        lua = self._script(script, a.duration, floor_rps)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        result = run_wrk(self.wrk, url, a.duration, conns, lua)
        cpu = (server.cpu_seconds() - cpu0) / max(time.monotonic() - t0, 1e-9)
        self._check(label, result)
        if not server.alive():
            raise BenchError(f"{server.name} died during {label}")
        return result, cpu

    def _check(self, label: str, result: WrkResult) -> None:
        if result.timeouts:
            print(
                f"bench: WARNING {label}: {result.timeouts} requests got no answer within "
                f"{TIMEOUT_S} s (not in p50/p99)",
                flush=True,
            )
        if result.errors:
            detail = ", ".join(f"{k} {v}" for k, v in result.socket_errors.items())
            msg = f"{label}: {result.non_2xx} non-2xx responses of {result.requests}" + (
                f"; socket errors: {detail}" if detail else ""
            )
            print(f"bench: ERROR {msg}", flush=True)
            self.failures.append(msg)

    def ingest_pool(self, seconds: int, floor_rps: float) -> Path:
        """A fresh pool for one run, larger than even the floor could send in the time."""
        self._runs += 1
        for old in self.tmp.glob("ingest-*.pool"):
            old.unlink()  # tens of MB each
        count = int(max(floor_rps, 1000.0) * seconds * 1.1) + 500
        return write_pool(self.tmp, f"ingest-{self._runs}", count)

    def wrk_rounds(self, targets: list[tuple[str, str, Server, str, Script]]) -> None:
        """Each round measures the floor and then each route, back to back, and each
        route's ratio is taken against the floor of its own round; the reported figure is
        the median round. A shared machine drifts between minutes, and a floor measured
        once at the start would carry that drift into every ratio. Every other round runs
        the routes in reverse, so a drift within a round does not always favour the same
        one of two routes compared with each other (the vault against encryption off)."""
        rounds: dict[str, list[report.Row]] = {key: [] for key, *_ in targets}
        floor, rest = targets[0], targets[1:]
        for n in range(1, self.args.rounds + 1):
            print(f"bench: round {n} of {self.args.rounds}", flush=True)
            floor_rate: float | None = None
            for key, label, target, url, script in [floor, *(rest if n % 2 else rest[::-1])]:
                result, cpu = self.measure(label, target, url, script, floor_rate or 0.0)
                rounds[key].append(_wrk_row(label, result, cpu, floor_rate))
                floor_rate = floor_rate or result.rps
        for key, rows in rounds.items():
            self.rows[key] = _median(rows)
            plain = rounds.get(f"{key}_plain")
            if plain is not None:
                # Shown, not judged: two runs of one server here differ by up to 10% in
                # CPU time per request. The goal is judged by ``read_cost``.
                pairs = [
                    (on.cpu_per_request * 1e6, off.cpu_per_request * 1e6)
                    for on, off in zip(rows, plain, strict=True)
                    if on.cpu_per_request and off.cpu_per_request
                ]
                shown = ", ".join(f"{a:,.0f}/{b:,.0f} µs ({a / b - 1:+.1%})" for a, b in pairs)
                print(
                    f"bench: {rows[0].route}: server CPU per request, vault/off by round: {shown}"
                )

    def measure_read_costs(self) -> None:
        """The cipher's cost on the ``me`` reads, in this process (see ``read_cost``)."""
        print(
            "bench: vault against encryption off, in-process, CPU time per request ...",
            flush=True,
        )
        for cost in read_costs(self.readers, ("/v1/me", "/v1/me/orders")):
            key = "me" if cost.path == "/v1/me" else "me_orders"
            self.overheads[key] = cost.cost
            print(
                f"bench: GET {cost.path}: {cost.vault_us:,.0f} µs with the vault, "
                f"{cost.plain_us:,.0f} µs without ({cost.cost:+.1%}, median of block pairs)",
                flush=True,
            )

    # --- the guest flow -------------------------------------------------------------------

    def run_flows(self, server: Server, api: str, stripe: str) -> None:
        a = self.args
        label = "full guest flow (tokenize, create, pay)"
        results: list[tuple[report.Row, FlowResult]] = []
        for _ in range(a.rounds):
            print(
                f"bench: {label}: {a.flow_workers} workers, {a.warmup} s warm-up, "
                f"{a.duration} s measured ...",
                flush=True,
            )
            cpu0, t0 = server.cpu_seconds(), time.monotonic()
            result = run_flow(
                api,
                stripe,
                PUBLISHABLE_KEY,
                workers=a.flow_workers,
                warmup=a.warmup,
                duration=a.duration,
            )
            cpu = (server.cpu_seconds() - cpu0) / max(time.monotonic() - t0, 1e-9)
            errors = sum(result.errors.values())
            if errors:
                msg = f"{label}: {errors} failed flows: {dict(result.errors)}"
                print(f"bench: ERROR {msg}", flush=True)
                self.failures.append(msg)
            if not result.completed:
                self.failures.append(f"{label}: no flow completed")
            row = report.Row(
                route=label,
                rate=result.rate,
                unit="checkouts/s",
                p50_ms=percentile(result.latencies_ms, 50),
                p99_ms=percentile(result.latencies_ms, 99),
                ratio=None,
                server_cpu=cpu,
                errors=errors,
            )
            results.append((row, result))
        results.sort(key=lambda pair: pair[0].rate)
        self.rows["flow"], self.flow = results[len(results) // 2]

    # --- the inbox drain ------------------------------------------------------------------

    def run_drain(
        self, key: str, label: str, env: dict[str, str], stripe: str, workers: int
    ) -> None:
        """Rounds of: refund every payment a little at the provider, fill the inbox with
        events about them, let ``workers`` worker processes drain it. The median round."""
        a = self.args
        payments_needed = max(1, a.drain_events // EVENTS_PER_PAYMENT)
        db = InboxDatabase(env)
        results: list[DrainResult] = []
        try:
            payments = db.captured(payments_needed)
            if len(payments) < payments_needed:
                raise BenchError(f"{label}: only {len(payments)} captured payments to use")
            for n in range(1, a.rounds + 1):
                print(
                    f"bench: {label}: round {n} of {a.rounds}: {len(payments)} refunds at the "
                    f"provider, {len(payments) * EVENTS_PER_PAYMENT} events stored ...",
                    flush=True,
                )
                asyncio.run(refund_each(stripe, [ref for _, ref in payments]))
                prefix, bodies = events_for(payments, EVENTS_PER_PAYMENT)
                asyncio.run(db.fill(bodies))
                result = drain(
                    db,
                    self.servers,
                    [checkout_cli(), "worker"],
                    env,
                    self.tmp,
                    workers=workers,
                    prefix=prefix,
                )
                print(
                    f"bench: {label}: {result.rate:,.0f} events/s "
                    f"({result.events} in {result.seconds:.2f} s, workers' CPU {result.cpu:.0%})",
                    flush=True,
                )
                if result.retried or result.dead:
                    msg = f"{label}: {result.retried} retries, {result.dead} dead events"
                    print(f"bench: ERROR {msg}", flush=True)
                    self.failures.append(msg)
                results.append(result)
        finally:
            db.close()
        results.sort(key=lambda r: r.rate)
        best = results[len(results) // 2]
        self.rows[key] = report.Row(
            route=label,
            rate=best.rate,
            unit="events/s",
            p50_ms=None,
            p99_ms=None,
            ratio=None,
            server_cpu=best.cpu,
            errors=best.retried + best.dead,
        )

    def buy(self, api: str, stripe: str, env: dict[str, str]) -> None:
        """Enough captured payments for the drain events to be about."""
        needed = max(1, self.args.drain_events // EVENTS_PER_PAYMENT)
        db = InboxDatabase(env)
        try:
            have = len(db.captured(needed))
        finally:
            db.close()
        if have < needed:
            print(f"bench: {needed - have} guest purchases for the drain ...", flush=True)
            try:
                make_purchases(api, stripe, PUBLISHABLE_KEY, count=needed - have)
            except FlowFailed as exc:
                raise BenchError(f"a purchase for the drain failed: {exc.kind}") from exc

    def drain_on_postgres(self, stripe: str) -> None:
        url = self.args.postgres_url
        if not url:
            print("bench: inbox drain on PostgreSQL skipped (no --postgres-url)", flush=True)
            return
        with bench_schema(url) as schema_url:
            env = self.service_env("pg-data", stripe, schema_url)
            server, api = self.start_service(env, "pg-service")
            self.buy(api, stripe, env)
            server.stop()
            self.run_drain(
                "drain_pg",
                "inbox drain: PostgreSQL, 2 x checkout worker",
                env,
                stripe,
                workers=2,
            )

    # --- everything -----------------------------------------------------------------------

    def run(self) -> None:
        parts = set(self.args.only)
        stripe = self.start_emulator()
        if "orders" in parts:
            self.orders = run_orders(self, stripe)
            self.rows.update(self.orders.rows)
            if not parts - {"orders"}:
                return
        floor = self.start_floor() if parts & {"routes", "ingest", "me"} else None
        env = self.service_env("data", stripe, None)
        server, api = self.start_service(env, "service")
        ingest = self.start_ingest(stripe) if "ingest" in parts else None
        customer = (
            [self.start_customer_listener(stripe, plain=p) for p in (False, True)]
            if "me" in parts
            else []
        )
        if floor is not None:
            floor_server, floor_url = floor
            targets: list[tuple[str, str, Server, str, Script]] = [
                ("floor", "floor: GET / (bare Starlette)", floor_server, floor_url + "/", None)
            ]
            if "routes" in parts:
                create = write_post_script(self.tmp / "post_checkout.lua")
                targets += [
                    ("products", "GET /v1/products", server, api + "/v1/products", None),
                    ("create", "POST /v1/checkouts", server, api + "/v1/checkouts", create),
                ]
            if ingest is not None:
                ingest_server, ingest_url = ingest
                targets.append(
                    (
                        "ingest",
                        "POST /webhooks/stripe (verify, store, 200)",
                        ingest_server,
                        ingest_url + "/webhooks/stripe",
                        self.ingest_pool,
                    )
                )
            if customer:
                (vault, vault_url), (plain, plain_url) = customer
                lua_vault, lua_plain = self.tmp / "me-vault.lua", self.tmp / "me-plain.lua"
                for path, what in (("/v1/me", "me"), ("/v1/me/orders", "me_orders")):
                    targets += [
                        (what, f"GET {path} (vault)", vault, vault_url + path, lua_vault),
                        (
                            f"{what}_plain",
                            f"GET {path} (encryption off)",
                            plain,
                            plain_url + path,
                            lua_plain,
                        ),
                    ]
            self.wrk_rounds(targets)
            floor_server.stop()
        if ingest is not None:
            ingest[0].stop()
        for listener, _ in customer:
            listener.stop()
        if customer:
            self.measure_read_costs()
        if "flow" in parts:
            self.run_flows(server, api, stripe)
        if "drain" in parts:
            self.buy(api, stripe, env)
        server.stop()  # its worker loop would drain beside the measured workers
        if "drain" in parts:
            self.run_drain(
                "drain_sqlite", "inbox drain: SQLite, 1 x checkout worker", env, stripe, workers=1
            )
            self.drain_on_postgres(stripe)
        if "vault" in parts:
            # In this process, with every server stopped: these are CPU figures.
            print("bench: key rotation on SQLite ...", flush=True)
            self.rows["rotation"] = rotation_rate(self.tmp)
            print(f"bench: key rotation: {self.rows['rotation'].rate:,.0f} fields/s", flush=True)
            print("bench: sign-in password check ...", flush=True)
            self.rows["sign_in"] = sign_in_latency()
