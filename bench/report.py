"""The results table, the goals and the machine; ``bench.docs`` writes them into
``docs/BENCHMARKS.md``."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

PRODUCTS_GOAL = 0.40  # of the floor's req/s
CREATE_GOAL = 0.15  # of the floor's req/s
INGEST_GOAL = 0.25  # of the floor's req/s
FLOW_GOAL = 150.0  # completed checkouts/s
DRAIN_PG_GOAL = 1000.0  # events/s, two worker processes on PostgreSQL
ROTATION_GOAL = 20_000.0  # fields/s re-encrypted on SQLite
ME_OVERHEAD_GOAL = 0.10  # decrypting a customer's fields, over the same route without

# Rows in the order the table shows them (keys of ``Bench.rows``).
ORDER = (
    "floor",
    "products",
    "create",
    "ingest",
    "me",
    "me_plain",
    "me_orders",
    "me_orders_plain",
    "flow",
    "drain_sqlite",
    "drain_pg",
    "rotation",
    "sign_in",
)


@dataclass(frozen=True)
class Row:
    route: str
    rate: float
    unit: str  # "req/s", "checkouts/s" or "events/s"
    p50_ms: float | None  # None where there is no per-request latency (the drain)
    p99_ms: float | None
    ratio: float | None  # req/s over the floor's req/s
    server_cpu: float  # share of one core used by the server process in the window
    errors: int  # error answers, broken connections, failed flows, retried or dead events
    timeouts: int = 0  # wrk requests with no answer in time (not in p50/p99)
    cpu_per_request: float | None = None  # server CPU seconds per answered request


@dataclass(frozen=True)
class Goal:
    text: str
    measured: str
    met: bool | None  # None: not measured in this run


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


def goals(
    rows: dict[str, Row], *, postgres_given: bool, overheads: dict[str, float] | None = None
) -> list[Goal]:
    """The goals of the rows this run measured (all of them in a full run). ``overheads``:
    the cost of encryption per route, measured in-process (``bench/read_cost.py``)."""

    def share(key: str, text: str, goal: float) -> Goal | None:
        row = rows.get(key)
        if row is None:
            return None
        ratio = row.ratio or 0.0
        return Goal(f"{text} >= {goal:.0%} of floor", f"{ratio:.2f}x", ratio >= goal)

    def rate(key: str, text: str, goal: float, unit: str) -> Goal | None:
        row = rows.get(key)
        if row is None:
            return None
        return Goal(f"{text} >= {goal:,.0f} {unit}", f"{row.rate:,.1f}/s", row.rate >= goal)

    def overhead(key: str, text: str) -> Goal | None:
        on, off = rows.get(key), rows.get(f"{key}_plain")
        if on is None or off is None or not off.rate:
            return None
        paired = (overheads or {}).get(key)
        # Without the rounds (rows read back from elsewhere): the median rows' rates,
        # which may come from two different rounds.
        cost = paired if paired is not None else off.rate / max(on.rate, 1e-9) - 1.0
        return Goal(
            f"{text}: encryption < {ME_OVERHEAD_GOAL:.0%} over none (CPU per request)",
            f"{cost:+.1%}",
            cost < ME_OVERHEAD_GOAL,
        )

    found = [
        share("products", "GET /v1/products", PRODUCTS_GOAL),
        share("create", "POST /v1/checkouts", CREATE_GOAL),
        share("ingest", "POST /webhooks/stripe", INGEST_GOAL),
        overhead("me", "GET /v1/me"),
        overhead("me_orders", "GET /v1/me/orders"),
        rate("flow", "full guest flow", FLOW_GOAL, "checkouts/s"),
        rate("drain_pg", "inbox drain, PostgreSQL, 2 workers", DRAIN_PG_GOAL, "events/s"),
        rate("rotation", "key rotation, SQLite", ROTATION_GOAL, "fields/s"),
    ]
    out = [g for g in found if g is not None]
    if "drain_sqlite" in rows and "drain_pg" not in rows and not postgres_given:
        out.append(
            Goal(
                f"inbox drain, PostgreSQL, 2 workers >= {DRAIN_PG_GOAL:,.0f} events/s",
                "no --postgres-url",
                None,
            )
        )
    return out


_HEADERS = ("route", "throughput", "p50 ms", "p99 ms", "vs floor", "server CPU", "errors")


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.route,
        f"{row.rate:,.1f} {row.unit}",
        "-" if row.p50_ms is None else f"{row.p50_ms:.2f}",
        "-" if row.p99_ms is None else f"{row.p99_ms:.2f}",
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
    return "not measured" if goal.met is None else "met" if goal.met else "NOT met"


def markdown_table(rows: list[Row]) -> str:
    head = "| " + " | ".join(_HEADERS) + " |"
    align = "| --- | " + " | ".join("---:" for _ in _HEADERS[1:]) + " |"
    body = ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join([head, align, *body])


def markdown_goals(goal_list: list[Goal]) -> str:
    lines = ["| goal | measured | status |", "| --- | ---: | --- |"]
    lines += [
        f"| {g.text} | {g.measured} | {'**NOT met**' if g.met is False else _mark(g)} |"
        for g in goal_list
    ]
    return "\n".join(lines)
