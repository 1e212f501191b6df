"""The PII vault's costs: rotation rate (fields re-encrypted per second on SQLite) and
the password hash a sign-in pays (argon2id at the parameters the service uses).

Both run in this process on their own temporary files: rotation walks a table of
``rows`` rows with three encrypted columns through the same ``Rotation`` that
``checkout keys rotate`` uses, after a new primary key is made; the sign-in latency is the
median of a verification of a correct password (what every successful sign-in costs).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import sqlalchemy as sa

from bench import report
from customers.keys import LocalKeyProvider
from customers.keystore import SYSTEM, KeyStore
from customers.passwords import DEFAULT_PARAMETERS, Passwords
from customers.rotation import EncryptedColumn, Rotation
from customers.vault import Vault

_COLUMNS = ("email", "name", "phone")


def rotation_rate(tmp: Path, rows: int = 30_000, batch: int = 1000) -> report.Row:
    keys = KeyStore(f"sqlite:///{tmp / 'bench-keys.db'}", LocalKeyProvider(os.urandom(32)))
    vault = Vault(keys)
    engine = sa.create_engine(f"sqlite:///{tmp / 'bench-rotation.db'}")
    meta = sa.MetaData()
    table = sa.Table(
        "people",
        meta,
        sa.Column("id", sa.String(20), primary_key=True),
        # Plain binary here: the rows are written already encrypted, as fast as possible.
        *(sa.Column(f"{c}_enc", sa.LargeBinary) for c in _COLUMNS),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table),
            [
                {
                    "id": f"p{i:08d}",
                    **{
                        f"{c}_enc": vault_blob(vault, c, f"p{i:08d}", f"{c}-{i}@example.com")
                        for c in _COLUMNS
                    },
                }
                for i in range(rows)
            ],
        )
    columns = [EncryptedColumn("people", f"{c}_enc", c, "id", ("id",)) for c in _COLUMNS]
    keys.rotate(SYSTEM)
    cpu0, t0 = time.process_time(), time.perf_counter()
    moved = Rotation(vault, columns).run(engine.begin, batch=batch)
    elapsed = time.perf_counter() - t0
    cpu = (time.process_time() - cpu0) / elapsed
    engine.dispose()
    keys.close()
    expected = rows * len(_COLUMNS)
    return report.Row(
        route=f"key rotation, SQLite ({rows:,} rows x {len(_COLUMNS)} fields)",
        rate=moved / elapsed,
        unit="fields/s",
        p50_ms=None,
        p99_ms=None,
        ratio=None,
        server_cpu=cpu,
        errors=expected - moved,
    )


def vault_blob(vault: Vault, column: str, row_id: str, value: str) -> bytes:
    return vault.encrypt(value, table="people", column=column, row_id=row_id)


def sign_in_latency(samples: int = 15) -> report.Row:
    passwords = Passwords(DEFAULT_PARAMETERS)
    stored = passwords.hash("correct horse battery staple 42")
    times: list[float] = []
    for _ in range(samples):
        t0 = time.perf_counter()
        assert passwords.verify(stored, "correct horse battery staple 42")
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p = DEFAULT_PARAMETERS
    return report.Row(
        route=f"sign-in password check (argon2id m={p.memory_kib // 1024} MiB t={p.time_cost})",
        rate=1000 / statistics.median(times),
        unit="checks/s/core",
        p50_ms=statistics.median(times),
        p99_ms=times[-1],
        ratio=None,
        server_cpu=1.0,
        errors=0,
    )
