"""Many orders, fast: ``python -m bench.seed_orders --count 1000000``.

Writes what a real order needs to be listed and read (a completed checkout, the order,
one or two lines, its payment), with the personal fields encrypted by the service's own
vault and the email's blind index under the service's own key, both from the
configuration in the environment (``CHECKOUT_DATA_DIR``, ``DATABASE_URL``), so the
service started on that configuration opens them. Values are pre-encrypted in Python and
written with ``COPY`` on PostgreSQL (executemany batches on SQLite).

Spread: ``created_at`` uniform over the past year, statuses weighted like a shop's
(mostly paid), ``--emails`` distinct customer emails (a few thousand), guest orders
under the system key (``customer_id`` NULL). Deterministic for a given ``--seed``
except ids, nonces and timestamps' base (now).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from checkout.config import load_settings
from checkout.context import build_blind_index, build_vault
from checkout.db.engine import make_database
from checkout.db.tables import CheckoutRow, OrderLineRow, OrderRow, PaymentRow
from customers.blind_index import BlindIndex
from customers.vault import Vault

STATUSES = (
    ("paid", 70),
    ("authorized", 5),
    ("partially_refunded", 5),
    ("refunded", 8),
    ("canceled", 12),
)
_PAYMENT_STATUS = {
    "paid": "captured",
    "authorized": "authorized",
    "partially_refunded": "partially_refunded",
    "refunded": "refunded",
    "canceled": "voided",
}
_PRODUCTS = (
    ("TSHIRT-BLK-M", "T-shirt, black, M", 2500),
    ("MUG-WHITE", "Mug, white", 1200),
    ("HOODIE-GRY-L", "Hoodie, grey, L", 5900),
    ("CAP-NVY", "Cap, navy", 1800),
)
_CITIES = (("Springfield", "US", "12345"), ("Lyon", "FR", "69001"), ("Leeds", "GB", "LS1 4AP"))
BATCH = 20_000


@dataclass(frozen=True)
class Seeded:
    orders: int
    seconds: float
    emails: list[str]


def email_pool(count: int) -> list[str]:
    return [f"customer{i:05d}@example.com" for i in range(count)]


class _Maker:
    def __init__(self, vault: Vault, index: BlindIndex, emails: list[str], rng: random.Random):
        self.vault = vault
        self.rng = rng
        self.emails = emails
        self.digests = [index.email(e) for e in emails]
        self.statuses = [s for s, _ in STATUSES]
        self.weights = [w for _, w in STATUSES]
        self.now = datetime.now(UTC)

    def enc(self, value: str, column: str, row_id: str) -> bytes:
        return self.vault.encrypt(value, table="orders", column=column, row_id=row_id)

    def rows(
        self, n: int
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        rng = self.rng
        oid = f"ord_{rng.getrandbits(128):032x}"
        cid = f"chk_{rng.getrandbits(128):032x}"
        pid = f"pay_{rng.getrandbits(128):032x}"
        created = self.now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        status = rng.choices(self.statuses, self.weights)[0]
        who = rng.randrange(len(self.emails))
        city, country, postal = _CITIES[who % len(_CITIES)]
        address = json.dumps(
            {
                "name": f"Customer {who}",
                "line1": f"{who % 900 + 1} Main St",
                "city": city,
                "postal_code": postal,
                "country": country,
            },
            separators=(",", ":"),
        )
        picked = rng.sample(_PRODUCTS, rng.choice((1, 1, 2)))
        lines = []
        subtotal = 0
        for pos, (sku, name, price) in enumerate(picked):
            qty = rng.choice((1, 1, 2, 3))
            lines.append(
                {
                    "order_id": oid,
                    "position": pos,
                    "sku": sku,
                    "product_id": "prod_" + sku.lower(),
                    "name": name,
                    "quantity": qty,
                    "unit_amount": price,
                    "total_amount": price * qty,
                }
            )
            subtotal += price * qty
        total = subtotal + 500
        order = {
            "id": oid,
            "checkout_id": cid,
            "customer_id": None,
            "status": status,
            "currency": "USD",
            "subtotal": subtotal,
            "shipping": 500,
            "total": total,
            "email_enc": self.enc(self.emails[who], "email", oid),
            "shipping_address_enc": self.enc(address, "shipping_address", oid),
            # Most buyers give no separate billing address.
            "billing_address_enc": (
                self.enc(address, "billing_address", oid) if rng.random() < 0.3 else None
            ),
            "email_index": self.digests[who],
            "fulfilled_at": created + timedelta(days=2) if status == "paid" and n % 2 else None,
            "erased_at": None,
            "version": 1,
            "created_at": created,
            "updated_at": created,
        }
        checkout = {
            "id": cid,
            "secret_hash": f"{rng.getrandbits(256):064x}",
            "status": "completed",
            "currency": "USD",
            "lines": [
                {
                    "sku": ln["sku"],
                    "product_id": ln["product_id"],
                    "name": ln["name"],
                    "quantity": ln["quantity"],
                    "unit_amount": ln["unit_amount"],
                }
                for ln in lines
            ],
            "subtotal": subtotal,
            "shipping": 500,
            "total": total,
            "email_index": self.digests[who],
            "customer_id": None,
            "order_id": oid,
            "version": 1,
            "created_at": created,
            "updated_at": created,
        }
        captured = 0 if status in ("authorized", "canceled") else total
        refunded = total if status == "refunded" else (500 if status == "partially_refunded" else 0)
        payment = {
            "id": pid,
            "checkout_id": cid,
            "order_id": oid,
            "provider": "stripe",
            "provider_ref": f"pi_{rng.getrandbits(96):024x}",
            "status": _PAYMENT_STATUS[status],
            "amount": total,
            "currency": "USD",
            "amount_captured": captured,
            "amount_refunded": refunded,
            "capture_method": "automatic",
            "idempotency_key": f"seed-{pid}",
            "save_method": False,
            "version": 1,
            "created_at": created,
            "updated_at": created,
        }
        return checkout, order, lines, payment


_TABLES: dict[str, sa.Table] = {
    "checkouts": CheckoutRow.__table__,  # type: ignore[attr-defined]
    "orders": OrderRow.__table__,  # type: ignore[attr-defined]
    "order_lines": OrderLineRow.__table__,  # type: ignore[attr-defined]
    "payments": PaymentRow.__table__,  # type: ignore[attr-defined]
}


def _batches(maker: _Maker, count: int) -> Iterator[dict[str, list[dict[str, Any]]]]:
    done = 0
    while done < count:
        size = min(BATCH, count - done)
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLES}
        for i in range(size):
            checkout, order, lines, payment = maker.rows(done + i)
            batch["checkouts"].append(checkout)
            batch["orders"].append(order)
            batch["order_lines"].extend(lines)
            batch["payments"].append(payment)
        done += size
        yield batch


def _copy_value(value: Any) -> Any:
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list) else value


def _copy_postgres(engine: sa.Engine, batch: dict[str, list[dict[str, Any]]]) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()  # type: ignore[union-attr]
        for name, rows in batch.items():  # checkouts before the orders that point at them
            columns = list(rows[0])
            sql = f'COPY "{name}" ({", ".join(columns)}) FROM STDIN'
            with cur.copy(sql) as copy:
                for row in rows:
                    copy.write_row([_copy_value(row[c]) for c in columns])
        raw.commit()
    finally:
        raw.close()


def _insert_sqlite(engine: sa.Engine, batch: dict[str, list[dict[str, Any]]]) -> None:
    with engine.begin() as conn:
        for name, rows in batch.items():
            conn.execute(sa.insert(_TABLES[name]), rows)


def seed(
    engine: sa.Engine,
    vault: Vault,
    index: BlindIndex,
    count: int,
    *,
    emails: int = 5000,
    rng_seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Seeded:
    """Insert ``count`` orders (and their checkouts, lines and payments)."""
    pool = email_pool(emails)
    maker = _Maker(vault, index, pool, random.Random(rng_seed))
    write = _copy_postgres if engine.dialect.name == "postgresql" else _insert_sqlite
    t0 = time.perf_counter()
    done = 0
    for batch in _batches(maker, count):
        write(engine, batch)
        done += len(batch["orders"])
        if progress is not None:
            progress(done)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in _TABLES:
                conn.execute(sa.text(f'ANALYZE "{name}"'))
    return Seeded(count, time.perf_counter() - t0, pool)


def seed_from_environment(
    count: int, *, emails: int = 5000, env: Mapping[str, str] | None = None
) -> Seeded:
    """Seed the database the configuration names (the environment's, or ``env``), with
    the keys that configuration's service uses."""
    settings = load_settings(env)
    db = make_database(str(settings.database_url))
    vault = build_vault(settings)
    try:

        def show(done: int) -> None:
            if done % 100_000 == 0 or done == count:
                print(f"seed_orders: {done:,} orders", flush=True)

        return seed(
            db.writer, vault, build_blind_index(settings), count, emails=emails, progress=show
        )
    finally:
        vault.keys.close()
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed_orders", description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--emails", type=int, default=5000, help="distinct customer emails")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 50_000_000 or not 1 <= args.emails <= args.count:
        parser.error("--count must be 1..50,000,000 and --emails 1..count")
    done = seed_from_environment(args.count, emails=args.emails)
    print(
        f"seed_orders: {done.orders:,} orders in {done.seconds:.1f} s "
        f"({done.orders / done.seconds:,.0f}/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
