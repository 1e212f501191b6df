"""The public listener for the signed-in customer's reads, with the vault on or off.

``GET /v1/me`` and ``GET /v1/me/orders`` decrypt a customer's fields on every request. To
price that, the same listener runs twice: as ``checkout serve`` builds it, and with
``--plain``, where a vault that stores values as they are stands in for AES-GCM (same
column types and codecs; reads do no key lookup and no cipher). The difference between
the two rows is what encryption costs a read. ``--plain`` exists only here, never in the service.
"""

from __future__ import annotations

import argparse

from bench import serving
from checkout.config import load_settings
from checkout.context import build_context, build_vault
from checkout.logs import configure_logging
from checkout.web.factory import create_public_app
from customers.keystore import SYSTEM, KeyStore
from customers.pii import PiiDecryptError
from customers.vault import Vault

READY = "customer listener ready on"
_PLAIN = b"\x00"


class PlainVault(Vault):
    """Encryption off: the value, marked, as it is. Writes still make the owner's key,
    so both data dirs hold the same key rows; reads touch no key at all."""

    def __init__(self, keys: KeyStore) -> None:
        super().__init__(keys)

    def encrypt(
        self, plaintext: str, *, table: str, column: str, row_id: str, owner: str | None = None
    ) -> bytes:
        self.keys.primary(owner or SYSTEM)
        return _PLAIN + plaintext.encode()

    def decrypt(self, blob: bytes, *, table: str, column: str, row_id: str) -> str:
        if blob[:1] != _PLAIN:
            raise PiiDecryptError("not a plain bench value")
        return blob[1:].decode()


async def _serve(host: str, port: int, plain: bool) -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    vault = PlainVault(build_vault(settings).keys) if plain else None
    ctx = build_context(settings, vault=vault)
    try:
        await serving.serve(create_public_app(ctx), host, port, READY, "customer")
    finally:
        await ctx.aclose()


def main(argv: list[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plain", action="store_true", help="encryption off (bench only)")
    known, rest = pre.parse_known_args(argv)
    return serving.main(
        "python -m bench.me_app", rest, lambda host, port: _serve(host, port, known.plain)
    )


if __name__ == "__main__":
    raise SystemExit(main())
