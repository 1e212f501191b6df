"""``docs/BENCHMARKS.md``: the method, the results, and what moved them.

The file is the main run's text (``render_docs``) followed by sections that parts run on
their own write (``write_section``), each between ``<!-- bench:<name>:begin -->`` and
``<!-- bench:<name>:end -->``: rewriting the main text keeps them, and writing a section
replaces only that section.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench.report import Goal, Machine, Row, markdown_goals, markdown_table
from bench.wrk import TIMEOUT_S

if TYPE_CHECKING:
    from bench.orders import OrdersResult

DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"


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
    drain_events: int,
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
.venv/bin/python -m bench --only drain,me  # of routes,ingest,me,flow,drain,vault,orders
CHECKOUT_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make bench
```

Options: `--rounds` (default 3), `--duration` seconds measured per run (default 6),
`--warmup` seconds before each (default 2), `--connections` wrk connections (default 32),
`--flow-workers` concurrent guest-flow clients (default 32), `--drain-events` events per
drain round (default 5,000), `--postgres-url` the PostgreSQL server for the two-worker
drain (default `$CHECKOUT_BENCH_DATABASE_URL`, else `$CHECKOUT_TEST_DATABASE_URL`; the
bench works in a schema of its own and drops it; without a server that row is skipped
and its goal reported as not measured), `--only` some of the parts. The bench installs `wrk`
with `apt-get` if it is missing, and exits non-zero if any route answered an error
(non-2xx, a broken connection, a failed or timed-out flow, a drained event that was
retried or died) or a server could not start.
wrk requests that get no answer within its {TIMEOUT_S} s timeout are reported as "slow"
(wrk leaves them out of p50/p99) without failing the run. Missed goals are reported, not failed.

## Method

- **Floor**: `bench/floor_app.py`, one route `GET /` returning `{{"hello": "world"}}`,
  served by `checkout.serve.uvicorn_config` (httptools, no access log, no lifespan,
  keep-alive 5 s) on the same uvloop runner as `checkout serve`, in one process, its
  startup heap frozen as every server process of ours does (`checkout/heap.py`).
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
- **Stripe webhook ingestion**: `POST /webhooks/stripe` (verify the signature on the raw
  bytes, parse, encrypt and insert the event, answer `200`) on `bench/ingest_app.py`:
  the public listener alone, built by the same factory with the same settings and the
  same uvicorn configuration as `checkout serve`'s, in a data dir of its own on SQLite,
  but without the worker loop, which in `checkout serve` would start applying the events
  as they arrive (applying has rows of its own, below). Measured in the same rounds as
  the routes, against the floor of its round, with the same wrk settings: the same load
  generator as the floor, so the ratio compares like with like (the requests are bigger,
  so wrk spends a little more per request, on the same cores). wrk cannot sign per
  request, so before each run `bench/stripe_events.py` signs a pool of distinct events
  (a ~1.3 KB `payment_intent.succeeded` in the emulator's shape, each with its own event
  id: every request is a real insert, never the duplicate path), within Stripe's 300 s
  tolerance, sized at 1.1 x the floor's rate of the round for the run's seconds; a Lua
  script hands them out in turn, and a run that used the pool up would send failing
  requests, never repeats.
- **A signed-in customer's reads**: `GET /v1/me` (email, name, phone and two
  addresses decrypted) and `GET /v1/me/orders` (the customer's 10 orders, each with its
  email and addresses decrypted) on `bench/me_app.py`: the public listener as
  `checkout serve` builds it, twice, each in a data dir of its own with one customer made
  over HTTP (register, sign in, profile, 10 purchases): once with the vault, once with
  `--plain`, a vault that stores values unencrypted and reads them with no key lookup and
  no cipher (encryption off), so the difference between the two rows is everything the
  vault adds to a read. Same wrk settings and rounds as the routes (a Lua script sends
  the customer's bearer token); every other round runs the routes in reverse order, so
  the two rows take turns going first. Two wrk runs of the *same* server here differ by
  up to 10% in req/s and in CPU time per request (the per-round CPU figures are printed
  and swing by tens of percent), so the goal is judged in-process instead
  (`bench/read_cost.py`): once the wrk rounds are done, both apps are built again in the
  bench's own process over the same data dirs and called through ASGI with the
  customer's token, in 30 alternating blocks of 100 requests each, every block timed in
  process CPU time. The figure is the median over block pairs of vault / off - 1. It
  leaves out the HTTP parsing both pay, so the cipher's share comes out larger than over
  a socket, never smaller.
- **Inbox drain**: events/s at which `checkout worker` processes empty a pre-filled
  inbox. {drain_events:,} `charge.refunded` events a round, five for each of
  {drain_events // 5:,} captured payments (made by guest purchases through `checkout
  serve`), shuffled and stored with `Inbox.store`; before each round every one of those
  payments is refunded a little at the emulator, behind the service's back. No event can
  be skipped on its type (a refund can move a captured or partly refunded payment), so
  each needs the provider's answer (events about one payment in the same claimed batch of
  100 share one); one in five brings news (payment, order status and an outbound order
  event written), the rest find the state already applied, as late and repeated
  deliveries do. SQLite: the service's database after the flows, `checkout serve`
  stopped (its own worker loop would drain beside), one worker process. PostgreSQL: a
  schema of its own, purchases through `checkout serve` on it, then two worker processes
  draining together. The rate is the round's events over the span between the first
  and the last one's `processed_at` (the workers' reconciliation also files the
  emulator's own events from its event list, and applies them after; they are not
  counted); "server CPU" is the workers' CPU over the drain. {rounds}
  rounds, the median shown.
- **Key rotation** (`bench/vault.py`): fields/s re-encrypted by the same `Rotation` that
  `checkout keys rotate` runs, on a SQLite table of 30,000 rows with three encrypted
  columns, in batches of 1,000, after a new primary key is made (every field moves); one
  run, in the bench's own process, every server stopped. "server CPU" is that process's.
- **Sign-in password check**: the argon2id verification a successful sign-in pays, at
  the parameters the service uses (median and worst of 15); "throughput" is how many one
  core does per second, which bounds sign-ins per core.
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
- Ingestion is one signature check (HMAC-SHA256 per configured secret), a JSON parse, the
  card-data scan of a 1.3 KB body, an AES-GCM encryption and one `INSERT ... ON CONFLICT
  DO NOTHING` per event, the inserts of deliveries arriving together sharing one
  transaction; each is answered only once its row is committed.
- The drain is bound by the provider lookup (the SDK's request, the emulator's answer)
  and, on PostgreSQL, by round trips: a worker handles a claimed batch of 250 events 16
  at a time (two batches in flight per worker on PostgreSQL), reads the batch's payments
  in one query, asks the provider once per payment in the batch, writes only when the
  provider's state is news, and records the batch's outcomes in one transaction. Two
  workers share
  the inbox through `FOR UPDATE SKIP LOCKED`; the emulator and PostgreSQL share the
  same two cores, so more workers do not add much here.
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

The first run of the drain rows gave 543 events/s on SQLite (one worker) and 218 on
PostgreSQL (two workers), with the workers mostly waiting: each handled one event at a
time, in four transactions (look up, settle, record, plus a pool pre-ping for each).
Measured one round each on this shared machine, in order:

- A claimed batch is handled concurrently (16 at a time; events about one payment in
  turn), its outcomes recorded in one transaction, and the settle transaction skipped
  when the provider's state is not news: 439 events/s on PostgreSQL, 791 on SQLite.
- The batch's payments are read in one query before its events are handled, instead of
  a read per event: 761 on PostgreSQL, 903 on SQLite.
- The Stripe adapter reads a lookup's answer as a plain dict from the SDK's raw request:
  building StripeObjects and turning them back into a dict took 0.35 of its 0.70 ms of
  CPU. 991 on PostgreSQL, 1,438 on SQLite.
- Within a batch the provider is asked about each payment once (an answer obtained after
  the claim shows every change announced by the batch's events): about 8 % fewer lookups
  in this workload, more in real traffic, where a payment's events come in bursts.

Ingestion first measured 0.08x of the floor (about 1,000 events/s): a transaction per
delivery, and the INSERT statement built for each. Deliveries that arrive together are
now inserted in one transaction (each answered once it committed), with the statement
built once: about 0.2x. The rest is the request pipeline every route pays (edge
middleware, the card-data scan of the body, the response path).

Then (2026-11-23; perf and py-spy on the ingestion server, in-process CPU timings, each
alone too noisy on this machine for a figure of its own, so the rows above are the
measure):

- Full garbage collections walked the whole long-lived heap (SQLAlchemy, pydantic,
  routes) on the event loop: about a tenth of the ingestion server's CPU (perf:
  `gc_collect_main` and its visitors) and all of its p99, 90 ms. Every server process
  now freezes its startup heap once it is up (`checkout/heap.py`; the floor too): p99
  15 ms.
- The card-data guard's regex prefilter still tried every position of a 1.3 KB body
  (16 us). ASCII text now gets a C-level question first (digits read as `0`, spaces and
  dashes dropped: is there a run of thirteen?), header values are checked together, and
  a body without escapes whose squeezed text holds no card-field marker skips the JSON
  key walk: the guard went from ~35 to ~13 us a delivery. Property tests hold each
  pre-check to the exact check.
- Stripe events are parsed by orjson (json only for what orjson refuses), the two
  answers are prebuilt bytes, and the SQLite inbox insert runs on the driver with one
  cached statement instead of SQLAlchemy's multi-row INSERT rendered per group size
  (40 us a row in Python before SQLite did anything).
- The SQLite WAL grew without end under steady writes (PASSIVE checkpoints never let the
  log start over: 122 MB after 18,000 deliveries); a RESTART checkpoint now follows once
  the log passes 16 MiB.
- The drain: batches of 250 instead of 100 (more events about one payment share a
  provider lookup, fewer claim and record transactions) and two batches in flight per
  worker on PostgreSQL: from 860-1,010 to 1,160-1,450 events/s there.
"""


_SECTION = re.compile(
    r"<!-- bench:(?P<name>[a-z]+):begin -->\n.*?<!-- bench:(?P=name):end -->\n", re.DOTALL
)


def _begin(name: str) -> str:
    return f"<!-- bench:{name}:begin -->\n"


def _end(name: str) -> str:
    return f"<!-- bench:{name}:end -->\n"


def _split(text: str) -> tuple[str, dict[str, str]]:
    """The main text and the separately written sections (whole, markers included)."""
    sections = {m.group("name"): m.group(0) for m in _SECTION.finditer(text)}
    return _SECTION.sub("", text).rstrip("\n") + "\n", sections


def _join(main: str, sections: dict[str, str]) -> str:
    return main.rstrip("\n") + "\n" + "".join("\n" + body for body in sections.values())


def write_docs(text: str) -> Path:
    """The main text, replaced; the separately written sections kept after it."""
    DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
    old = DOCS_PATH.read_text() if DOCS_PATH.exists() else ""
    DOCS_PATH.write_text(_join(_split(text)[0], _split(old)[1]))
    return DOCS_PATH


def write_section(name: str, body: str) -> Path:
    """Replace (or add at the end) the section ``name``; everything else stays."""
    old = DOCS_PATH.read_text() if DOCS_PATH.exists() else "# Benchmarks\n"
    main, sections = _split(old)
    sections[name] = _begin(name) + body.rstrip("\n") + "\n" + _end(name)
    DOCS_PATH.write_text(_join(main, sections))
    return DOCS_PATH


def render_orders_section(
    result: OrdersResult, goal_list: list[Goal], box: Machine, *, args: argparse.Namespace
) -> str:
    from bench.orders import APIS, QUERIES, STAFF_ROLE, plan_key, plan_summary, row_key

    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    scales = sorted(result.seed_rates)
    keys = [row_key(a, q, n) for a in APIS for n in scales for q in QUERIES]
    rows = [result.rows[k] for k in keys if k in result.rows]
    plans = "\n".join(
        f"- {q} at {n:,}: `{plan_summary(result.plans[plan_key(q, n)])}`"
        for n in scales
        for q in QUERIES
        if plan_key(q, n) in result.plans
    )
    per_email = scales[0] / min(5000, scales[-1])
    seeded = ", ".join(f"{n:,} orders at {rate:,.0f}/s" for n, rate in result.seed_rates.items())
    return f"""## Order listing at scale (`--only orders`, PostgreSQL)

Written by `python -m bench --only orders --write-docs --postgres-url URL`; the main run
leaves this section as it is.

`GET /staff/v1/orders` on the public listener (a `{STAFF_ROLE}` staff member's token,
signed in with password and TOTP; the issue's goal) and `GET /s2s/v1/orders` on the
private listener (an `orders:read` key), both through the same listing service: every
answer decrypts the page's email and addresses (the `FULFILLMENT` disclosure) and writes
one audit event; each staff request also looks up its session and member. At
{scales[0]:,} and at {scales[-1]:,} orders. For each size: a fresh schema in the
`bench_orders` database, `checkout migrate`, `bench/seed_orders.py` (completed
checkouts, orders with one or two lines and a payment each; personal fields encrypted by
the service's vault, the email's blind index under the service's key; `created_at` over
a year; 70 % paid, 5 % authorized; {min(5000, scales[-1]):,} distinct emails), `ANALYZE`,
`checkout staff create`, then `checkout serve` and wrk with {args.orders_connections}
connections, {args.warmup} s warm-up and {args.duration} s measured, {args.rounds} run(s)
per query (the median by p50). Queries: the first page (20 orders), a deep page
(`starting_after` the order 90 % of the way down), `status=authorized`, and `q=<email>`
(about 200 orders per email at 1M). Seeding: {seeded}.

{markdown_table(rows)}

{markdown_goals(goal_list)}

Plans (`EXPLAIN` of the page query, run before the load; a Seq Scan on orders fails the
run):

{plans}

Every filter walks an index that ends in the sort key (`(created_at, id)`,
`(status, created_at, id)`, `(email_index, created_at, id)`, migration 0010) from the
cursor, `(created_at, id) < (cursor)`, so a page costs the same at any depth and size:
no OFFSET, no count. What grows with the table is the index's height (one level
between these sizes) and how much of it is cached.

An email search returns every order of that email up to the page size: with
{min(5000, scales[-1]):,} emails that is about {per_email:,.0f} orders at {scales[0]:,}
and a full page of 20 at {scales[-1]:,}, so its larger p50 there is ten times the
decryption and JSON, not a slower lookup.

Machine: {box.line()}. Measured {date}.
"""
