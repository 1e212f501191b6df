"""``python -m bench``: floor, products, checkout creation, Stripe webhook ingestion, the full
guest flow, and the inbox worker's drain rate (SQLite; PostgreSQL when a server is given)."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from bench import docs, report
from bench.errors import BenchError
from bench.orders import goals as order_goals
from bench.postgres import URL_VARIABLES, default_url
from bench.procs import Servers
from bench.runner import DEFAULT_PARTS, PARTS, Bench
from bench.stripe_events import MAX_SIGNED_SECONDS
from bench.wrk import ensure_wrk, wrk_version


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
        "--drain-events", type=int, default=5000, help="events per inbox drain round"
    )
    parser.add_argument(
        "--postgres-url",
        default=default_url(),
        help="PostgreSQL server for the two-worker drain (a schema of its own, dropped after); "
        f"default ${URL_VARIABLES[0]}, else ${URL_VARIABLES[1]}",
    )
    parser.add_argument(
        "--only",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=list(DEFAULT_PARTS),
        help=f"comma-separated parts to run, of {','.join(PARTS)} "
        f"(default: all; orders needs --postgres-url)",
    )
    parser.add_argument(
        "--orders-scales",
        type=lambda text: [int(n) for n in text.split(",") if n.strip()],
        default=[10_000, 1_000_000],
        help="order counts the orders part seeds and measures (default 10000,1000000)",
    )
    parser.add_argument(
        "--orders-connections",
        type=int,
        default=8,
        help="wrk connections for the orders part (latency, not throughput, is its figure)",
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help=f"rewrite docs/{docs.DOCS_PATH.name} (with --only orders: its own section only)",
    )
    args = parser.parse_args(argv)
    if not args.only or set(args.only) - set(PARTS):
        parser.error(f"--only takes parts of {','.join(PARTS)}")
    if args.write_docs and set(args.only) not in (set(DEFAULT_PARTS), {"orders"}):
        parser.error("--write-docs needs every default part (no --only), or --only orders")
    if "orders" in args.only and not args.postgres_url:
        parser.error("the orders part runs on PostgreSQL: give --postgres-url")
    if not 1 <= args.orders_connections <= 1000:
        parser.error("--orders-connections must be 1..1000")
    if not 5 <= args.drain_events <= 1_000_000:
        parser.error("--drain-events must be 5..1000000")
    if "ingest" in args.only and max(args.duration, args.warmup) > MAX_SIGNED_SECONDS:
        parser.error(
            f"ingestion signs its events before each run: --duration and --warmup must stay "
            f"under {MAX_SIGNED_SECONDS} s (Stripe's tolerance is 300 s)"
        )
    if not 1 <= args.duration <= 3600 or not 0 <= args.warmup <= 600:
        parser.error("--duration must be 1..3600 and --warmup 0..600")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1..20")
    if not 1 <= args.connections <= 10_000 or not 1 <= args.flow_workers <= 1_000:
        parser.error("--connections must be 1..10000 and --flow-workers 1..1000")
    return args


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
            bench.run()
    except KeyboardInterrupt:
        print("\nbench: interrupted; servers stopped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1

    rows = [bench.rows[key] for key in report.ORDER if key in bench.rows]
    rows += [row for key, row in bench.rows.items() if key.startswith("orders_")]
    goal_list = report.goals(
        bench.rows, postgres_given=bool(args.postgres_url), overheads=bench.overheads
    )
    if bench.orders is not None:
        goal_list += order_goals(bench.orders)
    flow = bench.flow
    client_cpu = flow.client_cpu_seconds / flow.elapsed if flow and flow.elapsed else 0.0
    print()
    print(report.text_table(rows, goal_list, box))
    if flow is not None:
        print(f"client CPU during the flow: {client_cpu:.0%} of one core")
    if bench.failures:
        print("\nbench: FAILED: errors while measuring:", file=sys.stderr)
        for failure in bench.failures:
            print(f"  - {failure}", file=sys.stderr)
        print("(docs/BENCHMARKS.md left unchanged)" if args.write_docs else "", file=sys.stderr)
        return 1
    if args.write_docs and set(args.only) == {"orders"}:
        assert bench.orders is not None
        section = docs.render_orders_section(
            bench.orders, order_goals(bench.orders), box, args=args
        )
        print(f"bench: wrote the orders section of {docs.write_section('orders', section)}")
    elif args.write_docs:
        text = docs.render_docs(
            rows,
            goal_list,
            box,
            duration=args.duration,
            warmup=args.warmup,
            connections=args.connections,
            flow_workers=args.flow_workers,
            client_cpu=client_cpu,
            rounds=args.rounds,
            drain_events=args.drain_events,
        )
        print(f"bench: wrote {docs.write_docs(text)}")
        if bench.orders is not None and bench.orders.rows:
            section = docs.render_orders_section(
                bench.orders, order_goals(bench.orders), box, args=args
            )
            print(f"bench: wrote the orders section of {docs.write_section('orders', section)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
