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


def test_keys_rotate_killed_midway_resumes_and_loses_nothing(db_url: str, tmp_path: Path) -> None:
    import signal

    import sqlalchemy as sa

    from checkout.config import load_settings
    from checkout.context import build_vault

    assert _run(["migrate"], db_url, tmp_path).returncode == 0
    env = {"CHECKOUT_DATA_DIR": str(tmp_path), "DATABASE_URL": db_url}
    vault = build_vault(load_settings(env))
    engine = sa.create_engine(db_url)
    n = 20_000
    rows = [
        {
            "id": f"chk_{i:06d}",
            "email": vault.encrypt(
                f"buyer{i}@example.com", table="checkouts", column="email", row_id=f"chk_{i:06d}"
            ),
            "t": "2026-01-01 00:00:00",
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO checkouts (id, status, currency, lines, subtotal, shipping, total, "
                "secret_hash, version, created_at, updated_at, email_enc) VALUES (:id, 'open', "
                "'USD', '[]', 0, 0, 0, 'x', 1, :t, :t, :email)"
            ),
            rows,
        )
    cmd_env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
    cmd_env.update(CHECKOUT_DATA_DIR=str(tmp_path), DATABASE_URL=db_url)
    proc = subprocess.Popen(
        [CHECKOUT, "keys", "rotate", "--batch", "10"],
        env=cmd_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("new primary keys for")
    assert "checkouts.email_enc" in proc.stdout.readline()  # a batch or more are done
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()

    midway = _run(["keys", "status"], db_url, tmp_path)
    behind = _status_figure(midway.stdout, "fields not under their owner's primary key")
    assert 0 < behind < n, midway.stdout
    resumed = _run(["keys", "rotate", "--resume"], db_url, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "new primary key" not in resumed.stdout
    final = _run(["keys", "status"], db_url, tmp_path)
    assert _status_figure(final.stdout, "fields not under their owner's primary key") == 0
    fresh = build_vault(load_settings(env))
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id, email_enc FROM checkouts ORDER BY id")).all()
    engine.dispose()
    assert len(stored) == n
    for i, (row_id, blob) in enumerate(stored):
        plain = fresh.decrypt(bytes(blob), table="checkouts", column="email", row_id=row_id)
        assert plain == f"buyer{i}@example.com"
    vault.keys.close()
    fresh.keys.close()


def _status_figure(out: str, label: str) -> int:
    """The number ``checkout keys status`` prints before ``label``."""
    lines = [ln for ln in out.splitlines() if ln.endswith(label)]
    assert len(lines) == 1, out
    return int(lines[0].split()[0])


def test_a_kek_rotation_rewraps_every_key_then_the_old_kek_is_not_needed(
    db_url: str, tmp_path: Path
) -> None:
    """The operator's KEK rotation: set the new KEK, list the old one as previous, run
    ``keys rotate``; status says nothing waits; the service starts with the new KEK alone
    and reads everything written under the old one."""
    import base64

    import sqlalchemy as sa

    from checkout.config import load_settings
    from checkout.context import build_vault

    assert _run(["migrate"], db_url, tmp_path).returncode == 0
    old = base64.urlsafe_b64encode(os.urandom(32)).decode()
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    env = {"CHECKOUT_DATA_DIR": str(tmp_path), "DATABASE_URL": db_url}
    vault = build_vault(load_settings({**env, "CHECKOUT_KEK": old}))
    blob = vault.encrypt("kek@example.com", table="checkouts", column="email", row_id="chk_k")
    mine = vault.encrypt("mine@example.com", table="t", column="c", row_id="r", owner="cus_1")
    vault.keys.close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO checkouts (id, status, currency, lines, subtotal, shipping, total, "
                "secret_hash, version, created_at, updated_at, email_enc) VALUES ('chk_k', "
                "'open', 'USD', '[]', 0, 0, 0, 'x', 1, :t, :t, :email)"
            ),
            {"t": "2026-01-01 00:00:00", "email": blob},
        )
    engine.dispose()

    def run(args: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
        cmd_env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
        cmd_env.update(CHECKOUT_DATA_DIR=str(tmp_path), DATABASE_URL=db_url, **extra)
        return subprocess.run(
            [CHECKOUT, *args], check=False, env=cmd_env, capture_output=True, text=True, timeout=120
        )

    # The new KEK alone opens nothing yet: the operator is told what to do, not a trace.
    alone = run(["keys", "rotate"], CHECKOUT_KEK=new)
    assert alone.returncode == 2 and "CHECKOUT_KEK_PREVIOUS" in alone.stderr, alone.stderr
    assert "Traceback" not in alone.stderr and "new primary keys" not in alone.stdout
    pending = run(["keys", "status"], CHECKOUT_KEK=new, CHECKOUT_KEK_PREVIOUS=old)
    assert pending.returncode == 0, pending.stderr
    assert _status_figure(pending.stdout, "data keys not wrapped under the current KEK") == 2
    rotated = run(["keys", "rotate"], CHECKOUT_KEK=new, CHECKOUT_KEK_PREVIOUS=old)
    assert rotated.returncode == 0, rotated.stderr
    assert "re-wrapped" in rotated.stdout
    done = run(["keys", "status"], CHECKOUT_KEK=new)
    assert done.returncode == 0, done.stderr
    assert _status_figure(done.stdout, "data keys not wrapped under the current KEK") == 0
    assert old not in rotated.stdout + rotated.stderr + done.stdout + done.stderr
    fresh = build_vault(load_settings({**env, "CHECKOUT_KEK": new}))
    try:
        assert fresh.decrypt(blob, table="checkouts", column="email", row_id="chk_k") == (
            "kek@example.com"
        )
        assert fresh.decrypt(mine, table="t", column="c", row_id="r") == "mine@example.com"
    finally:
        fresh.keys.close()
