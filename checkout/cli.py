"""The ``checkout`` command line (names fixed by API.md's operations table).

Imports are local to each command so that ``checkout migrate`` does not load the web stack.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from checkout.config import ConfigError, Settings, load_settings
from checkout.logs import configure_logging

if TYPE_CHECKING:
    from checkout.services.uow import UnitOfWork


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"checkout: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level)
    return settings


@contextmanager
def _unit_of_work(settings: Settings) -> Iterator[UnitOfWork]:
    """The database for a one-off command, closed however the command ends."""
    from checkout.db.engine import make_database
    from checkout.services.uow import UnitOfWork

    db = make_database(str(settings.database_url), pool_size=2)
    uow = UnitOfWork(db)
    try:
        yield uow
    finally:
        uow.close()
        db.dispose()


def cmd_serve(_: argparse.Namespace) -> int:
    from checkout.serve import run_service

    return run_service(_settings())


def cmd_migrate(_: argparse.Namespace) -> int:
    from checkout.db.migrate import upgrade

    with _unit_of_work(_settings()) as uow:
        upgrade(uow.db.engine)
    print("database migrated to the latest schema")
    return 0


def cmd_seed(_: argparse.Namespace) -> int:
    from checkout.seed import seed_demo_catalog
    from checkout.services.catalog import CatalogService

    with _unit_of_work(_settings()) as uow:
        count = seed_demo_catalog(CatalogService(uow))
    print(f"demo catalog: {count} products")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import signal

    from checkout import heap
    from checkout.context import build_context
    from checkout.worker import worker_for

    async def main() -> None:
        ctx = build_context(_settings())
        worker = worker_for(ctx)
        try:
            if args.once:
                print(await worker.run_once())
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            heap.settle()  # checkout/heap.py: the collector skips the startup heap
            print("worker loop running", flush=True)
            await worker.run(stop)
        finally:
            await ctx.aclose()

    asyncio.run(main())
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    import json
    from datetime import timedelta

    from checkout.context import build_context

    async def main() -> dict[str, object]:
        ctx = build_context(_settings())
        try:
            report = await ctx.reconciler.run_once(timedelta(seconds=args.older_than))
        finally:
            await ctx.aclose()
        return report.as_dict()

    print(json.dumps(asyncio.run(main()), indent=2))
    return 0


def cmd_webhooks_replay(args: argparse.Namespace) -> int:
    from webhooks.inbox import requeue

    with _unit_of_work(_settings()) as uow, uow.write() as conn:
        matched = requeue(conn, args.provider, args.event_id)
    if not matched:
        print(f"checkout: no stored event {args.event_id}", file=sys.stderr)
        return 1
    print(f"event {args.event_id} queued again; the worker applies it on its next pass")
    return 0


def cmd_api_keys_create(args: argparse.Namespace) -> int:
    from checkout.access.scopes import UnknownScope, parse_scopes
    from checkout.services.api_keys import ApiKeys

    try:
        scopes = parse_scopes(args.scopes)
    except UnknownScope as exc:
        print(f"checkout: {exc}", file=sys.stderr)
        return 2
    with _unit_of_work(_settings()) as uow:
        key, secret = ApiKeys(uow).create(scopes, label=args.label)
    # The secret goes to stdout alone on its line so a script can capture it; it is not
    # stored anywhere and cannot be shown again.
    print(f"api key {key.id} ({','.join(sorted(s.value for s in key.scopes))})", file=sys.stderr)
    print(secret)
    return 0


def cmd_api_keys_list(_: argparse.Namespace) -> int:
    from checkout.services.api_keys import ApiKeys

    with _unit_of_work(_settings()) as uow:
        keys = ApiKeys(uow).list()
    for k in keys:
        state = "revoked" if k.revoked_at else "active"
        used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never"
        scopes = ",".join(sorted(s.value for s in k.scopes))
        print(f"{k.id}  sk_{k.hint}…  {state}  last used {used}  {scopes}  {k.label or ''}")
    return 0


def cmd_api_keys_revoke(args: argparse.Namespace) -> int:
    from checkout.services.api_keys import ApiKeys

    with _unit_of_work(_settings()) as uow:
        revoked = ApiKeys(uow).revoke(args.key_id)
    if not revoked:
        print(f"checkout: no active api key {args.key_id}", file=sys.stderr)
        return 1
    print(f"api key {args.key_id} revoked; requests with it are refused from now on")
    return 0


def cmd_payments_review(_: argparse.Namespace) -> int:
    from checkout.store import payments as payment_store

    with _unit_of_work(_settings()) as uow, uow.read() as conn:
        held = payment_store.held_for_review(conn)
    for p in held:
        print(f"{p.id}  {p.provider} {p.provider_ref or '-'}  {p.status}  {p.review_reason}")
    if not held:
        print("no payments are held for review")
    # Non-zero while something waits for a person, so monitoring can alert on it.
    return 3 if held else 0


def cmd_webhooks_redeliver(args: argparse.Namespace) -> int:
    from webhooks.delivery import redeliver

    with _unit_of_work(_settings()) as uow, uow.write() as conn:
        queued = redeliver(conn, args.event_id, args.endpoint)
    if not queued:
        print(f"checkout: no finished delivery of {args.event_id}", file=sys.stderr)
        return 1
    print(f"{queued} deliveries of {args.event_id} queued; the worker sends them next pass")
    return 0


def _rotation() -> tuple[Any, Any]:
    from checkout.context import build_vault
    from checkout.db.encrypted import ENCRYPTED_COLUMNS
    from customers.rotation import Rotation

    vault = build_vault(_settings())
    return vault, Rotation(vault, ENCRYPTED_COLUMNS)


_KEK_HELP = (
    "checkout: a data key does not unwrap under CHECKOUT_KEK; during a KEK rotation list "
    "the old KEK in CHECKOUT_KEK_PREVIOUS until `checkout keys rotate` has re-wrapped "
    "every data key"
)


def cmd_keys_status(args: argparse.Namespace) -> int:
    from customers.keys import KeyUnwrapError

    try:
        return _keys_status()
    except KeyUnwrapError:
        print(_KEK_HELP, file=sys.stderr)
        return 2


def _keys_status() -> int:
    vault, rotation = _rotation()
    try:
        keys = vault.keys
        with _unit_of_work(_settings()) as uow, uow.read() as conn:
            columns = rotation.summary(conn)
        keks = keys.kek_counts()
        print(f"system primary key: {keys.primary()[0]}")
        print(f"customers with keys of their own: {keys.count_owners() - 1}")
        for kek_id, n in sorted(keks.items()):
            mark = " (current)" if kek_id == keys.kek_id else " (previous: re-wrap pending)"
            print(f"KEK {kek_id}{mark}: wraps {n} data keys")
    finally:
        vault.keys.close()
    print("column  current  behind  legacy-v1  erased")
    for c in columns:
        print(f"{c.column}  {c.current}  {c.behind}  {c.legacy}  {c.erased}")
    behind = sum(c.to_move for c in columns)
    rewrap = sum(n for k, n in keks.items() if k != vault.keys.kek_id)
    print(f"{behind} fields not under their owner's primary key")
    print(f"{rewrap} data keys not wrapped under the current KEK")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from customers.keys import KeyUnwrapError

    try:
        return _keys_rotate(args)
    except KeyUnwrapError:
        print(_KEK_HELP, file=sys.stderr)
        return 2


def _keys_rotate(args: argparse.Namespace) -> int:
    """New primary keys (the system's and, unless ``--system-only``, every customer's),
    every data key re-wrapped under the current KEK, every field re-encrypted in batches
    while the service runs, and keys no field names any more deleted."""
    if not 1 <= args.batch <= 100_000:
        print("checkout: --batch must be 1 to 100000", file=sys.stderr)
        return 2
    from customers.keystore import SYSTEM

    vault, rotation = _rotation()
    keys = vault.keys
    try:
        # Re-wrap first: a KEK that cannot open the keys stops the run before it changes
        # anything.
        rewrapped = keys.rewrap()
        if rewrapped:
            print(f"re-wrapped {rewrapped} data keys under KEK {keys.kek_id}", flush=True)
        if not args.resume:
            made = len(keys.rotate_owners([SYSTEM])) if args.system_only else keys.rotate_all()
            print(f"new primary keys for {made} owners", flush=True)
        with _unit_of_work(_settings()) as uow:
            done = rotation.run(
                uow.write,
                batch=args.batch,
                progress=lambda where, n: print(f"{where}: {n} fields", flush=True),
            )
            with uow.read() as conn:
                in_use = rotation.keys_in_use(conn)
        # Only keys out of the primary role longer than any writer caches them go, so a
        # value written meanwhile under an old key is never orphaned; a later
        # ``--resume`` run moves such values and retires the rest.
        retired = keys.retire_unused(in_use)
    finally:
        keys.close()
    print(f"re-encrypted {done} fields; retired {retired} old keys")
    print(
        f"writers cache primary keys for {int(keys.cache_seconds)} s: run "
        "`checkout keys rotate --resume` after that to move what they wrote meanwhile "
        "and retire the old keys"
    )
    return 0


def cmd_customers_erase(args: argparse.Namespace) -> int:
    from checkout.context import build_context
    from checkout.services.errors import NotFoundError
    from checkout.store.audit import Actor

    async def main() -> int | None:
        ctx = build_context(_settings())
        try:
            done = await ctx.erasure.erase(args.customer_id, Actor("cli"))
        except NotFoundError:
            return None
        finally:
            await ctx.aclose()
        return done.pending_steps

    pending = asyncio.run(main())
    if pending is None:
        print(f"checkout: no customer {args.customer_id}", file=sys.stderr)
        return 1
    print(f"customer {args.customer_id} erased")
    if pending:
        # Our data is gone; the worker retries the provider steps until they succeed.
        print(f"{pending} erasure step(s) wait for the provider; the worker retries them")
    return 0


def cmd_staff_create(args: argparse.Namespace) -> int:
    from checkout.access.roles import UnknownRole, parse_role
    from checkout.context import build_context
    from checkout.services.errors import ConflictError
    from checkout.store.audit import Actor

    try:
        role = parse_role(args.role)
    except UnknownRole as exc:
        print(f"checkout: {exc}", file=sys.stderr)
        return 2
    if "@" not in args.email or len(args.email) > 254:
        print("checkout: --email must be an email address", file=sys.stderr)
        return 2

    async def main() -> Any:
        ctx = build_context(_settings())
        try:
            return await ctx.staff.create(args.email.strip(), role, Actor("cli"))
        finally:
            await ctx.aclose()

    try:
        done = asyncio.run(main())
    except ConflictError as exc:
        print(f"checkout: {exc.message}", file=sys.stderr)
        return 1
    # The password and the enrolment URI go to stdout, each alone on its line, so a script
    # can capture them; they are stored only hashed and encrypted and cannot be shown again.
    print(f"staff member {done.member.id} ({role.value}) created", file=sys.stderr)
    print(done.password)
    print(done.otpauth_uri)
    return 0


def cmd_audit_verify(_: argparse.Namespace) -> int:
    from checkout.services.audit_log import AuditLog

    with _unit_of_work(_settings()) as uow:
        report = AuditLog(uow).verify()
    if report.broken is not None:
        print(
            f"checkout: audit chain broken at event {report.broken.event_id}: "
            f"{report.broken.reason} ({report.events} events before it verify)",
            file=sys.stderr,
        )
        return 1
    print(f"audit chain intact: {report.events} events, head {report.head}")
    return 0


def cmd_doctor(_: argparse.Namespace) -> int:
    from checkout import doctor

    return doctor.main()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="checkout", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="both listeners, the worker loop, and dev emulators").set_defaults(
        fn=cmd_serve
    )
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)
    sub.add_parser("seed", help="load the demo catalog (idempotent)").set_defaults(fn=cmd_seed)
    worker = sub.add_parser("worker", help="the worker loop alone")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.set_defaults(fn=cmd_worker)
    reconcile = sub.add_parser("reconcile", help="one reconciliation pass")
    reconcile.add_argument(
        "--older-than", type=int, default=600, help="seconds a payment must be unsettled"
    )
    reconcile.set_defaults(fn=cmd_reconcile)
    _add_operations(sub)
    _add_access(sub)
    args = parser.parse_args(argv)
    return int(args.fn(args))


Commands = Any  # argparse's _SubParsersAction, which it does not export


def _add_operations(sub: Commands) -> None:
    """Webhooks, PII keys, payments held for review, customer erasure."""
    hooks = sub.add_parser("webhooks", help="the webhook inbox").add_subparsers(
        dest="webhooks_command", required=True
    )
    replay = hooks.add_parser("replay", help="reprocess one stored event")
    replay.add_argument("event_id")
    replay.add_argument("--provider", choices=["stripe", "paypal"], default=None)
    replay.set_defaults(fn=cmd_webhooks_replay)
    redeliver = hooks.add_parser(
        "redeliver", help="send one of our order events to integrations again"
    )
    redeliver.add_argument("event_id")
    redeliver.add_argument("--endpoint", default=None, help="only to this whe_… endpoint")
    redeliver.set_defaults(fn=cmd_webhooks_redeliver)
    _add_pii_keys(sub)
    payments = sub.add_parser("payments", help="payments that need a person").add_subparsers(
        dest="payments_command", required=True
    )
    payments.add_parser(
        "review", help="payments held for review (amount or currency mismatch); exit 3 if any"
    ).set_defaults(fn=cmd_payments_review)
    customers = sub.add_parser("customers", help="customer accounts").add_subparsers(
        dest="customers_command", required=True
    )
    erase = customers.add_parser(
        "erase", help="erase a customer's personal data (as DELETE /v1/me does)"
    )
    erase.add_argument("customer_id")
    erase.set_defaults(fn=cmd_customers_erase)
    sub.add_parser(
        "doctor", help="check this deployment's configuration; exit 1 if anything is unsafe"
    ).set_defaults(fn=cmd_doctor)


def _add_pii_keys(sub: Commands) -> None:
    pii_keys = sub.add_parser("keys", help="PII key rotation").add_subparsers(
        dest="keys_command", required=True
    )
    pii_keys.add_parser("status", help="how many fields each key holds").set_defaults(
        fn=cmd_keys_status
    )
    rotate = pii_keys.add_parser(
        "rotate", help="new primary keys; re-wrap under the current KEK; re-encrypt in batches"
    )
    rotate.add_argument("--resume", action="store_true", help="finish moving, no new key")
    rotate.add_argument(
        "--system-only", action="store_true", help="rotate the system key, not customers' keys"
    )
    rotate.add_argument("--batch", type=int, default=1000, help="rows per transaction")
    rotate.set_defaults(fn=cmd_keys_rotate)


def _add_access(sub: Commands) -> None:
    """API keys, staff members, the audit log."""
    keys = sub.add_parser("api-keys", help="private-listener API keys").add_subparsers(
        dest="api_keys_command", required=True
    )
    create = keys.add_parser("create", help="a new key; prints its secret once")
    create.add_argument("--scopes", required=True, help="comma-separated, e.g. orders:read")
    create.add_argument("--label", default=None, help="what the key is for")
    create.set_defaults(fn=cmd_api_keys_create)
    keys.add_parser("list", help="every key, without secrets").set_defaults(fn=cmd_api_keys_list)
    revoke = keys.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id")
    revoke.set_defaults(fn=cmd_api_keys_revoke)
    staff = sub.add_parser("staff", help="staff members").add_subparsers(
        dest="staff_command", required=True
    )
    staff_create = staff.add_parser(
        "create", help="a new member; prints the initial password and an otpauth:// URI"
    )
    staff_create.add_argument("--email", required=True)
    staff_create.add_argument(
        "--role", required=True, help="viewer, fulfillment, support, manager or admin"
    )
    staff_create.set_defaults(fn=cmd_staff_create)
    audit_cmd = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    audit_cmd.add_parser(
        "verify", help="check the audit hash chain; non-zero exit if broken"
    ).set_defaults(fn=cmd_audit_verify)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
