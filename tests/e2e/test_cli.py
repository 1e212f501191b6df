"""The one-off commands, run as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CHECKOUT = str(Path(sys.executable).with_name("checkout"))


def _run(args: list[str], db_url: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
    env.update(CHECKOUT_DATA_DIR=str(data), DATABASE_URL=db_url)
    return subprocess.run(
        [CHECKOUT, *args], check=False, env=env, capture_output=True, text=True, timeout=120
    )


def test_migrate_seed_and_one_worker_pass(db_url: str, tmp_path: Path) -> None:
    migrated = _run(["migrate"], db_url, tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated" in migrated.stdout
    for _ in range(2):  # seeding twice changes nothing
        seeded = _run(["seed"], db_url, tmp_path)
        assert seeded.returncode == 0 and "5 products" in seeded.stdout
    once = _run(["worker", "--once"], db_url, tmp_path)
    assert once.returncode == 0 and "idempotency_keys_purged" in once.stdout


def test_a_bad_setting_is_named_and_exits_2(tmp_path: Path) -> None:
    r = _run(["migrate"], "mysql://nope", tmp_path)
    assert r.returncode == 2
    assert "DATABASE_URL" in r.stderr


def test_reconcile_prints_its_report(db_url: str, tmp_path: Path) -> None:
    assert _run(["migrate"], db_url, tmp_path).returncode == 0
    r = _run(["reconcile", "--older-than", "0"], db_url, tmp_path)
    assert r.returncode == 0, r.stderr
    assert '"checked": 0' in r.stdout and '"changed": {}' in r.stdout


def test_webhooks_replay_requeues_a_stored_event(db_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    assert _run(["migrate"], db_url, tmp_path).returncode == 0
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO webhook_events (provider, event_id, type, payload_enc, status, "
                "attempts, next_attempt_at, received_at, last_error) VALUES ('stripe', "
                "'evt_dead', 'payment_intent.succeeded', :p, 'dead', 15, :t, :t, 'gave up')"
            ),
            {"p": b"x", "t": "2026-01-01 00:00:00"},
        )
    assert _run(["webhooks", "replay", "evt_missing"], db_url, tmp_path).returncode == 1
    r = _run(["webhooks", "replay", "evt_dead"], db_url, tmp_path)
    assert r.returncode == 0, r.stderr
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, attempts, last_error FROM webhook_events")).one()
    engine.dispose()
    assert tuple(row) == ("pending", 0, None)


def test_api_keys_are_created_listed_and_revoked(db_url: str, tmp_path: Path) -> None:
    import hashlib

    import sqlalchemy as sa

    assert _run(["migrate"], db_url, tmp_path).returncode == 0
    bad = _run(["api-keys", "create", "--scopes", "orders:read,root"], db_url, tmp_path)
    assert bad.returncode == 2 and "root" in bad.stderr
    made = _run(["api-keys", "create", "--scopes", "orders:read,webhooks:manage"], db_url, tmp_path)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("sk_") and len(secret) >= 40
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        key_id, stored, scopes = conn.execute(
            sa.text("SELECT id, secret_hash, scopes FROM api_keys")
        ).one()
    engine.dispose()
    # Only the hash is kept.
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    assert scopes == "orders:read,webhooks:manage"
    listed = _run(["api-keys", "list"], db_url, tmp_path)
    assert key_id in listed.stdout and "active" in listed.stdout and secret not in listed.stdout
    assert _run(["api-keys", "revoke", key_id], db_url, tmp_path).returncode == 0
    assert _run(["api-keys", "revoke", key_id], db_url, tmp_path).returncode == 1
    assert "revoked" in _run(["api-keys", "list"], db_url, tmp_path).stdout


def test_payments_review_lists_held_payments_and_exits_3(db_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    assert _run(["migrate"], db_url, tmp_path).returncode == 0
    clean = _run(["payments", "review"], db_url, tmp_path)
    assert clean.returncode == 0 and "no payments" in clean.stdout
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        now = {"t": "2026-01-01 00:00:00"}
        conn.execute(
            sa.text(
                "INSERT INTO checkouts (id, status, currency, lines, subtotal, shipping, total, "
                "secret_hash, version, created_at, updated_at) VALUES ('chk_1', 'open', 'USD', "
                "'[]', 0, 0, 100, 'x', 1, :t, :t)"
            ),
            now,
        )
        conn.execute(
            sa.text(
                "INSERT INTO payments (id, checkout_id, provider, provider_ref, status, amount, "
                "currency, amount_captured, amount_refunded, capture_method, idempotency_key, "
                "review_reason, version, created_at, updated_at) VALUES ('pay_1', 'chk_1', "
                "'stripe', 'pi_1', 'captured', 100, 'USD', 90, 0, 'automatic', 'pay_1', "
                "'provider reported 90 USD, asked 100 USD', 1, :t, :t)"
            ),
            now,
        )
    engine.dispose()
    held = _run(["payments", "review"], db_url, tmp_path)
    assert held.returncode == 3
    assert "pay_1" in held.stdout and "provider reported 90 USD, asked 100 USD" in held.stdout
