"""The results table, the goals, the machine, and ``docs/BENCHMARKS.md``."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.wrk import TIMEOUT_S

DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"

PRODUCTS_GOAL = 0.40  # of the floor's req/s
CREATE_GOAL = 0.15  # of the floor's req/s
FLOW_GOAL = 150.0  # completed checkouts/s


@dataclass(frozen=True)
class Row:
    route: str
    rate: float
    unit: str  # "req/s" or "checkouts/s"
    p50_ms: float
    p99_ms: float
    ratio: float | None  # req/s over the floor's req/s
    server_cpu: float  # share of one core used by the server process in the window
    errors: int  # error answers, broken connections, failed flows
    timeouts: int = 0  # wrk requests with no answer in time (not in p50/p99)


@dataclass(frozen=True)
class Goal:
    text: str
    measured: str
    met: bool


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    python: str
    system: str
    wrk: str
    load: str

    def line(self) -> str:
        return (
            f"{self.cpu}, {self.cores} cores; Python {self.python}; {self.system}; {self.wrk}; "
            f"load average before the run {self.load}"
        )


def machine(wrk_version: str) -> Machine:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return Machine(
        cpu=cpu,
        cores=os.cpu_count() or 1,
        python=platform.python_version(),
        system=f"{platform.system()} {platform.release()}",
        wrk=wrk_version,
        load=" ".join(f"{x:.2f}" for x in os.getloadavg()),
    )


def goals(products: Row, create: Row, flow: Row) -> list[Goal]:
    def ratio(row: Row) -> float:
        return row.ratio or 0.0

    return [
        Goal(
            f"GET /v1/products >= {PRODUCTS_GOAL:.0%} of floor",
            f"{ratio(products):.2f}x",
            ratio(products) >= PRODUCTS_GOAL,
        ),
        Goal(
            f"POST /v1/checkouts >= {CREATE_GOAL:.0%} of floor",
            f"{ratio(create):.2f}x",
            ratio(create) >= CREATE_GOAL,
        ),
        Goal(
            f"full guest flow >= {FLOW_GOAL:.0f} checkouts/s",
            f"{flow.rate:.1f}/s",
            flow.rate >= FLOW_GOAL,
        ),
    ]


_HEADERS = ("route", "throughput", "p50 ms", "p99 ms", "vs floor", "server CPU", "errors")


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.route,
        f"{row.rate:,.1f} {row.unit}",
        f"{row.p50_ms:.2f}",
        f"{row.p99_ms:.2f}",
        f"{row.ratio:.2f}x" if row.ratio is not None else "-",
        f"{row.server_cpu:.0%}",
        str(row.errors) + (f" (+{row.timeouts} slow)" if row.timeouts else ""),
    )


def text_table(rows: list[Row], goal_list: list[Goal], box: Machine) -> str:
    cells = [_HEADERS, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(_HEADERS))]

    def fmt(c: tuple[str, ...]) -> str:
        first = c[0].ljust(widths[0])
        rest = (v.rjust(w) for v, w in zip(c[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    out = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    out += [fmt(c) for c in cells[1:]]
    out.append("")
    out += [f"goal: {g.text:<40} {g.measured:>10}  {_mark(g)}" for g in goal_list]
    out.append("")
    out.append(f"machine: {box.line()}")
    return "\n".join(out)


def _mark(goal: Goal) -> str:
    return "met" if goal.met else "NOT met"


def markdown_table(rows: list[Row]) -> str:
    head = "| " + " | ".join(_HEADERS) + " |"
    align = "| --- | " + " | ".join("---:" for _ in _HEADERS[1:]) + " |"
    body = ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join([head, align, *body])


def markdown_goals(goal_list: list[Goal]) -> str:
    lines = ["| goal | measured | status |", "| --- | ---: | --- |"]
    lines += [
        f"| {g.text} | {g.measured} | {'met' if g.met else '**NOT met**'} |" for g in goal_list
    ]
    return "\n".join(lines)


def render_docs(
    rows: list[Row],
    goal_list: list[Goal],
    box: Machine,
    *,
    duration: int,
    warmup: int,
    connections: int,
    flow_workers: int,
    client_cpu: float,
    rounds: int,
) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""# Benchmarks

How fast the service answers on one machine, measured against a floor: a bare Starlette
hello-world served with exactly the same uvicorn settings. The ratio to the floor is the
figure to watch; absolute numbers move with the machine.

## How to run

```sh
make bench                                 # = .venv/bin/python -m bench
.venv/bin/python -m bench --rounds 5       # more rounds, steadier medians
.venv/bin/python -m bench --write-docs     # also rewrite this file with the results
```

Options: `--rounds` (default 3), `--duration` seconds measured per run (default 6),
`--warmup` seconds before each (default 2), `--connections` wrk connections (default 32),
`--flow-workers` concurrent guest-flow clients (default 32). The bench installs `wrk`
with `apt-get` if it is missing, and exits non-zero if any route answered an error
(non-2xx, a broken connection, a failed or timed-out flow) or a server could not start.
wrk requests that get no answer within its {TIMEOUT_S} s timeout are reported as "slow"
(wrk leaves them out of p50/p99) without failing the run. Missed goals are reported, not failed.

## Method

- **Floor**: `bench/floor_app.py`, one route `GET /` returning `{{"hello": "world"}}`,
  served by `checkout.serve.uvicorn_config` (httptools, no access log, no lifespan,
  keep-alive 5 s) on the same uvloop runner as `checkout serve`, in one process.
- **Service**: `checkout migrate`, `checkout seed`, `checkout serve` in a fresh temporary
  data dir on free ports: one process holding the public and private listeners and the
  worker loop, on SQLite (dev mode, default settings, INFO JSON access logs). The Stripe
  emulator runs in a process of its own (`python -m providers.stripe_emulator`), as the
  real Stripe would, so its work is not counted against the service.
- **Load**: `wrk --threads 1 --connections {connections} --duration {duration}s
  --timeout {TIMEOUT_S}s --latency`, after a {warmup} s warm-up run that is thrown away,
  against `GET /` on the floor, `GET /v1/products` and `POST /v1/checkouts` (a Lua
  script sends the JSON body
  `{{"currency":"USD","lines":[{{"sku":"TSHIRT-BLK-M","quantity":2}}],"email":"buyer@example.com"}}`).
  Throughput is wrk's `Requests/sec`; p50/p99 from `--latency`.
- **Rounds**: {rounds} rounds, each measuring the floor and then each route back to back;
  a route's ratio is taken against the floor of its own round and the table shows the
  median round. A shared machine drifts between minutes (the floor alone has moved by a
  third between runs here), and one floor measured at the start would carry that drift
  into every ratio.
- **Full guest flow**: {flow_workers} asyncio workers sharing one `aiohttp` session,
  each looping tokenize at the emulator (`POST /v1/payment_methods`) -> create
  checkout -> pay (`POST /v1/checkouts/{{id}}/payments` with `X-Checkout-Secret` and an
  `Idempotency-Key`). A flow counts only if the payment is `captured` with an `order_id`,
  and only if it began inside the {duration} s window after a {warmup} s warm-up. p50/p99
  are of the whole three-request flow. The flow runs {rounds} times; the median is shown.
- Everything on loopback (127.0.0.1); client, emulator and server share the machine's
  cores. "server CPU" is the server process's user+system time over the window, as a
  share of one core (all its threads, so it can exceed 100%).

## Results

{markdown_table(rows)}

Each row is that route's median round of {rounds}; its ratio is to the floor measured in
the same round, so it need not equal its throughput over the floor row's.

{markdown_goals(goal_list)}

Machine: {box.line()}.
Measured {date}. Client CPU during the flow run: {client_cpu:.0%} of one core.

## Reading the numbers

- The floor is what uvicorn + Starlette can do on this machine with these settings and
  nothing else; a route's ratio is the share of that left after the service's own work
  (request id, access log, metrics, card-data scan, JSON, SQLite). 1.00x would mean the
  route costs nothing beyond the framework.
- Each server is one process on one event loop, so a server CPU near 100% means that
  route is CPU-bound in Python: more connections raise latency, not throughput.
- `GET /v1/products` is served from a 1 s in-process cache (keyed on the raw query
  string, refreshed by one request while the others get the previous copy), so it
  measures the request pipeline more than the database. `POST /v1/checkouts` writes a
  row to SQLite on every request (prices come from a 1 s copy of the catalog; paying
  re-prices from the database).
- One completed flow is three requests to two processes, and paying calls the emulator
  over HTTP from inside the service: one create, then an idempotency claim, the
  write-ahead payment row, the Stripe call, the settle transaction (payment, order,
  lines, checkout) and the idempotency record, each a SQLite write transaction.
- Numbers from different machines are not comparable; ratios roughly are.

## What moved the numbers (py-spy profiles, 2026-11)

The first run of this bench gave 0.21x for products, 0.02x for checkout creation and
26 checkouts/s. In order of effect:

- Log lines were written and flushed one by one: a write and flush system call per
  request. They are now batched by a handler that flushes every 50 ms, at once for
  warnings and errors, and at exit.
- SQLite work ran on AnyIO worker threads; on this machine a thread hop costs ~280 us,
  more than the transaction. SQLite units of work now run inline on the event loop, on a
  connection each thread keeps, with writers taking turns on an in-process lock instead
  of sleeping in SQLite's busy handler (which had p99 in seconds). PostgreSQL keeps the
  thread pool.
- Statements were built per call (`insert().values(**row)` costs more to build than to
  run); they are now built once with bind parameters. On SQLite the checkout insert goes
  further and runs on the driver's cursor with the column types' own bind processors
  (`checkout/db/driver_insert.py`; a test proves the rows read back identical): about
  15 % off checkout creation.
- The Stripe SDK's httpx transport spent ~2.8 ms of CPU per call, a third of it failing
  to `import sniffio` on every request; the SDK now uses its aiohttp transport
  (~1.1 ms), and `sniffio` is installed.
- The card-data guard ran its full scan on every header; a C-level prefilter (thirteen
  digits with at most single separators) now rules out almost all text at once.
- Smaller: one edge middleware instead of three layers, orjson for JSON, request ids
  from a fast generator instead of `getrandom()`, logging without caller lookup.
"""


def write_docs(text: str) -> Path:
    DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOCS_PATH.write_text(text)
    return DOCS_PATH
