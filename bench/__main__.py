"""``python -m bench``: floor, products, checkout creation and the full guest flow."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from bench import report
from bench.errors import BenchError
from bench.floor_app import READY as FLOOR_READY
from bench.flow import FlowResult, percentile, run_flow
from bench.procs import Server, Servers, free_port, run_step
from bench.wrk import TIMEOUT_S, WrkResult, ensure_wrk, run_wrk, write_post_script, wrk_version

PUBLISHABLE_KEY = "pk_test_emulator_dev"
_URL = r"(http://127\.0\.0\.1:\d+)"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=int, default=6, help="measured seconds per run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of floor + routes; the median is kept"
    )
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds before each run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--flow-workers", type=int, default=32, help="concurrent guest flows")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"rewrite docs/{report.DOCS_PATH.name}"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 3600 or not 0 <= args.warmup <= 600:
        parser.error("--duration must be 1..3600 and --warmup 0..600")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1..20")
    if not 1 <= args.connections <= 10_000 or not 1 <= args.flow_workers <= 1_000:
        parser.error("--connections must be 1..10000 and --flow-workers 1..1000")
    return args


def _clean_env() -> dict[str, str]:
    """The caller's environment minus anything that would point the service elsewhere."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CHECKOUT_") and k not in {"DATABASE_URL", "PYTHONPATH"}
    }


def _checkout_cli() -> str:
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
    )


class Bench:
    def __init__(self, args: argparse.Namespace, wrk: str, tmp: Path, servers: Servers) -> None:
        self.args = args
        self.wrk = wrk
        self.tmp = tmp
        self.servers = servers
        self.failures: list[str] = []

    def measure(
        self, label: str, server: Server, url: str, script: Path | None = None
    ) -> tuple[WrkResult, float]:
        a = self.args
        print(f"bench: {label}: {a.warmup} s warm-up, {a.duration} s measured ...", flush=True)
        if a.warmup:
            warm = run_wrk(self.wrk, url, a.warmup, a.connections, script)
            self._check(f"{label} (warm-up)", warm)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        result = run_wrk(self.wrk, url, a.duration, a.connections, script)
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

    def start_floor(self) -> tuple[Server, str]:
        port = free_port()
        env = _clean_env()
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
        are the API process's, not the emulator's."""
        port = free_port()
        emulator = self.servers.start(
            "stripe emulator",
            [sys.executable, "-m", "providers.stripe_emulator", "--port", str(port)],
            _clean_env(),
            self.tmp / "emulator.log",
        )
        url = emulator.wait_ready({"stripe": r"stripe emulator ready on " + _URL})["stripe"]
        print(f"bench: stripe emulator ready on {url} (pid {emulator.pid})", flush=True)
        return url

    def start_service(self) -> tuple[Server, str, str]:
        data = self.tmp / "data"
        stripe = self.start_emulator()
        env = _clean_env()
        env.update(
            CHECKOUT_ENV="dev",
            CHECKOUT_DATA_DIR=str(data),
            CHECKOUT_PUBLIC_PORT=str(free_port()),
            CHECKOUT_PRIVATE_PORT=str(free_port()),
            CHECKOUT_STRIPE_API_BASE=stripe,
            CHECKOUT_STRIPE_SECRET_KEY="sk_test_emulator_dev",
            # The in-process PayPal emulator is idle here; a free port keeps it from
            # clashing with anything on its default one.
            CHECKOUT_PAYPAL_EMULATOR_PORT=str(free_port()),
        )
        cli, log = _checkout_cli(), self.tmp / "service.log"
        print(
            f"bench: checkout migrate && checkout seed && checkout serve (data dir {data})",
            flush=True,
        )
        run_step("checkout migrate", [cli, "migrate"], env, log)
        run_step("checkout seed", [cli, "seed"], env, log)
        server = self.servers.start("checkout serve", [cli, "serve"], env, log)
        urls = server.wait_ready(
            {
                "api": r"public listener ready on " + _URL,
                "private": r"private listener ready on " + _URL,
                "worker": r"(worker loop running)",
            }
        )
        urls["stripe"] = stripe
        print(
            f"bench: service ready: api {urls['api']}, stripe emulator {urls['stripe']} "
            f"(pid {server.pid})"
        )
        return server, urls["api"], urls["stripe"]

    def flow(self, server: Server, api: str, stripe: str) -> tuple[report.Row, FlowResult]:
        a = self.args
        label = "full guest flow (tokenize, create, pay)"
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
        return row, result

    def run(self) -> tuple[list[report.Row], FlowResult]:
        """Each round measures the floor and then each route, back to back, and each
        route's ratio is taken against the floor of its own round; the reported figure is
        the median round. A shared machine drifts between minutes, and a floor measured
        once at the start would carry that drift into every ratio."""
        floor_server, floor_url = self.start_floor()
        server, api, stripe = self.start_service()
        script = write_post_script(self.tmp / "post_checkout.lua")
        targets = [
            ("floor: GET / (bare Starlette)", floor_server, floor_url + "/", None),
            ("GET /v1/products", server, api + "/v1/products", None),
            ("POST /v1/checkouts", server, api + "/v1/checkouts", script),
        ]
        rounds: list[list[report.Row]] = []
        for n in range(1, self.args.rounds + 1):
            print(f"bench: round {n} of {self.args.rounds}", flush=True)
            floor_rate: float | None = None
            row_set: list[report.Row] = []
            for label, target, url, lua in targets:
                result, cpu = self.measure(label, target, url, lua)
                row = _wrk_row(label, result, cpu, floor_rate)
                floor_rate = floor_rate or result.rps
                row_set.append(row)
            rounds.append(row_set)
        floor_server.stop()
        flows = sorted(
            (self.flow(server, api, stripe) for _ in range(self.args.rounds)),
            key=lambda pair: pair[0].rate,
        )
        flow_row, flow = flows[len(flows) // 2]
        rows = [_median_round(rounds, i) for i in range(len(targets))]
        return [*rows, flow_row], flow


def _median_round(rounds: list[list[report.Row]], index: int) -> report.Row:
    """The row of the round whose ratio (rate, for the floor) is the median."""
    rows = sorted((r[index] for r in rounds), key=lambda row: (row.ratio or 0.0, row.rate))
    return rows[len(rows) // 2]


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through every ``finally``, which stops the servers


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    # Explicit, because a shell starting us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        wrk = ensure_wrk()
        box = report.machine(wrk_version(wrk))
        print(f"bench: machine: {box.line()}", flush=True)
        with (
            tempfile.TemporaryDirectory(prefix="checkout-bench-") as tmp,
            Servers() as servers,
        ):
            bench = Bench(args, wrk, Path(tmp), servers)
            rows, flow = bench.run()
    except KeyboardInterrupt:
        print("\nbench: interrupted; servers stopped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1

    goal_list = report.goals(rows[1], rows[2], rows[3])
    client_cpu = flow.client_cpu_seconds / flow.elapsed if flow.elapsed else 0.0
    print()
    print(report.text_table(rows, goal_list, box))
    print(f"client CPU during the flow: {client_cpu:.0%} of one core")
    if bench.failures:
        print("\nbench: FAILED: routes answered with errors:", file=sys.stderr)
        for failure in bench.failures:
            print(f"  - {failure}", file=sys.stderr)
        print("(docs/BENCHMARKS.md left unchanged)" if args.write_docs else "", file=sys.stderr)
        return 1
    if args.write_docs:
        text = report.render_docs(
            rows,
            goal_list,
            box,
            duration=args.duration,
            warmup=args.warmup,
            connections=args.connections,
            flow_workers=args.flow_workers,
            client_cpu=client_cpu,
            rounds=args.rounds,
        )
        print(f"bench: wrote {report.write_docs(text)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
