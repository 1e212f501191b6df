"""Dev only: the PayPal emulator's webhook signing PKI, kept in the data dir.

`checkout serve` in dev generates a test CA and a signing leaf once (files mode 600 in a
directory of mode 700, like the other dev keys), hands them to the emulator it starts, and
builds our verifier to trust that CA, fetching the leaf from a pinned local copy rather
than from the network. Production never reads this directory: `Settings.paypal_dev_pki`
is only set in dev with the emulator, and config refuses its CA as a production bundle.
"""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from checkout.config import DEV_PAYPAL_CA_FILE
from providers.paypal.webhook_pinned import pinned_fetcher
from providers.paypal.webhook_signature import PayPalVerifier
from providers.paypal_emulator.pki import SigningIdentity, generate

CA_FILE = DEV_PAYPAL_CA_FILE  # config looks for it too, to refuse it in production
LEAF_FILE = "leaf.pem"
KEY_FILE = "leaf.key"  # the emulator's signing key; test PKI, but still not for reading
# A leaf this close to expiry is replaced at start rather than left to fail mid-session.
_RENEW_BEFORE = timedelta(days=30)


def load_identity(directory: Path) -> SigningIdentity | None:
    """The stored identity, or None if there is none (or it is unreadable)."""
    try:
        return SigningIdentity.from_pem(
            ca_pem=(directory / CA_FILE).read_bytes(),
            leaf_pem=(directory / LEAF_FILE).read_bytes(),
            key_pem=(directory / KEY_FILE).read_bytes(),
        )
    except (OSError, ValueError):
        return None


def ensure_identity(directory: Path, now: datetime | None = None) -> SigningIdentity:
    """The stored identity, generated first if missing, unreadable or near expiry."""
    when = now or datetime.now(UTC)
    current = load_identity(directory)
    if current is not None and current.valid_at(when + _RENEW_BEFORE):
        return current
    identity = generate(when)
    _store(directory, identity)
    # Another process may have stored its own at the same moment; whichever landed wins.
    return load_identity(directory) or identity


def verifier(directory: Path, webhook_id: str) -> PayPalVerifier | None:
    """A verifier trusting the stored CA and pinned to the stored leaf; None if the PKI
    has not been generated (only `checkout serve` generates it, before it is needed)."""
    identity = load_identity(directory)
    if identity is None:
        return None
    return PayPalVerifier(
        webhook_id=webhook_id,
        ca_bundle_pem=identity.ca_pem,
        fetch=pinned_fetcher(identity.cert_url, identity.leaf_pem),
    )


def _store(directory: Path, identity: SigningIdentity) -> None:
    """Write into a fresh sibling directory, then swap it in, so no reader ever sees a CA
    from one generation beside a key from another."""
    directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = directory.with_name(f".{directory.name}.{secrets.token_hex(6)}")
    staging.mkdir(mode=0o700)
    for name, data in (
        (CA_FILE, identity.ca_pem),
        (LEAF_FILE, identity.leaf_pem),
        (KEY_FILE, identity.key_pem()),
    ):
        fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    retired = directory.with_name(f".{directory.name}.old-{secrets.token_hex(6)}")
    try:
        if directory.exists():
            directory.rename(retired)
        staging.rename(directory)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(retired, ignore_errors=True)
