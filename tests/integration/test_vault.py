"""The PII vault on real databases: the key store apart from the main database, the
encrypted column type, per-owner keys and their destruction, the blind index."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from checkout.context import AppContext
from customers.blind_index import BlindIndex, normalize_email
from customers.column import Encrypted, Seal, Sealed
from customers.keys import KeyUnwrapError, LocalKeyProvider
from customers.keystore import SYSTEM, KeyStore, OwnerErased
from customers.masking import mask_email
from customers.pii import PiiCipher, PiiDecryptError
from customers.vault import KeyDestroyed, Vault, key_id_of
from tests.integration.helpers import checkout_body

_META = sa.MetaData()
PEOPLE = sa.Table(
    "vault_people",
    _META,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", Encrypted("vault_people", "email")),
    sa.Column("phone", Encrypted("vault_people", "phone")),
)


class VaultNote(SQLModel, table=True):
    """The column type on a SQLModel field, as the customers table will use it."""

    __tablename__ = "vault_notes"
    id: str = Field(primary_key=True)
    body: Sealed | None = Field(default=None, sa_type=Encrypted("vault_notes", "body"))


# A table of this test only: kept out of the application's metadata (migrations, cleanup).
SQLModel.metadata.remove(VaultNote.__table__)  # type: ignore[attr-defined]


@pytest.fixture
def keystore(tmp_path: Path) -> Iterator[KeyStore]:
    store = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}", LocalKeyProvider(os.urandom(32)))
    yield store
    store.close()


@pytest.fixture
def vault(keystore: KeyStore) -> Vault:
    return Vault(keystore)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url)
    _META.drop_all(eng)
    _META.create_all(eng)
    VaultNote.__table__.drop(eng, checkfirst=True)  # type: ignore[attr-defined]
    VaultNote.__table__.create(eng)  # type: ignore[attr-defined]
    yield eng
    _META.drop_all(eng)
    VaultNote.__table__.drop(eng)  # type: ignore[attr-defined]
    eng.dispose()


def _insert(engine: sa.Engine, vault: Vault, row_id: str, email: str, owner: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(PEOPLE),
            {"id": row_id, "email": Seal(vault, email, row_id=row_id, owner=owner)},
        )


def _sealed(engine: sa.Engine, row_id: str) -> Sealed:
    with engine.connect() as conn:
        value = conn.execute(sa.select(PEOPLE.c.email).where(PEOPLE.c.id == row_id)).scalar_one()
    assert isinstance(value, Sealed)
    return value


def test_the_column_holds_ciphertext_naming_its_key_and_opens_masked(
    engine: sa.Engine, vault: Vault
) -> None:
    _insert(engine, vault, "p1", "jane.doe@example.com", "cus_1")
    _insert(engine, vault, "p2", "jane.doe@example.com", "cus_1")
    with engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT id, email FROM vault_people ORDER BY id")).all()
    assert all(b"jane" not in bytes(r[1]) for r in raw)
    assert bytes(raw[0][1]) != bytes(raw[1][1])  # same plaintext, different ciphertext
    sealed = _sealed(engine, "p1")
    assert sealed.key_id == vault.keys.primary("cus_1")[0]
    opened = sealed.open(vault, "p1", mask_email)
    assert repr(opened) == "Personal('j***@example.com')" and "jane" not in f"{opened}"
    assert opened.expose() == "jane.doe@example.com"
    assert "jane" not in repr(sealed)


def test_plaintext_cannot_be_bound_to_an_encrypted_column(engine: sa.Engine) -> None:
    for plaintext in ("jane@example.com", b"jane@example.com"):
        with pytest.raises(sa.exc.StatementError, match="never plaintext"), engine.begin() as c:
            c.execute(sa.insert(PEOPLE), {"id": "p9", "email": plaintext})
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM vault_people")).scalar_one() == 0


def test_a_ciphertext_moved_or_altered_fails_loudly(engine: sa.Engine, vault: Vault) -> None:
    _insert(engine, vault, "p1", "a@example.com", None)
    _insert(engine, vault, "p2", "b@example.com", None)
    one = _sealed(engine, "p1")
    # Another row, another column, another table: the associated data does not match.
    with pytest.raises(PiiDecryptError):
        one.open(vault, "p2")
    with pytest.raises(PiiDecryptError):
        Sealed(one.blob, "vault_people", "phone").open(vault, "p1")
    with pytest.raises(PiiDecryptError):
        Sealed(one.blob, "orders", "email").open(vault, "p1")
    # Any byte changed, anywhere, including the key id.
    for i in (0, 1, 5, len(one.blob) // 2, len(one.blob) - 1):
        bad = bytearray(one.blob)
        bad[i] ^= 0x01
        with pytest.raises(PiiDecryptError):
            Sealed(bytes(bad), "vault_people", "email").open(vault, "p1")
    # Copying a sealed value into another column is refused before it reaches SQL.
    with pytest.raises(sa.exc.StatementError), engine.begin() as conn:
        conn.execute(sa.update(PEOPLE).where(PEOPLE.c.id == "p2").values(phone=one))


def test_the_type_works_on_a_sqlmodel_field(engine: sa.Engine, vault: Vault) -> None:
    table = VaultNote.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table), {"id": "n1", "body": Seal(vault, "call 555-0100", row_id="n1")}
        )
    with engine.connect() as conn:
        sealed = conn.execute(sa.select(table.c.body)).scalar_one()
    assert sealed.open(vault, "n1").expose() == "call 555-0100"


def test_each_owner_has_its_own_key_and_destroying_it_erases_their_data_only(
    engine: sa.Engine, vault: Vault
) -> None:
    _insert(engine, vault, "a", "ann@example.com", "cus_a")
    _insert(engine, vault, "b", "bob@example.com", "cus_b")
    _insert(engine, vault, "s", "guest@example.com", None)
    ids = {_sealed(engine, r).key_id for r in ("a", "b", "s")}
    assert len(ids) == 3
    assert vault.forget("cus_a") == 1
    with pytest.raises(KeyDestroyed):
        _sealed(engine, "a").open(vault, "a")
    assert _sealed(engine, "b").open(vault, "b").expose() == "bob@example.com"
    assert _sealed(engine, "s").open(vault, "s").expose() == "guest@example.com"
    with pytest.raises(ValueError, match="system"):
        vault.keys.destroy(SYSTEM)
    # A request still running for the erased customer cannot get them a fresh key.
    with pytest.raises(OwnerErased):
        vault.encrypt(
            "late@example.com", table="vault_people", column="email", row_id="a", owner="cus_a"
        )
    assert vault.keys.keys("cus_a") == []
    assert vault.forget("cus_a") == 0  # erasing again is harmless


def test_a_backup_of_the_main_database_holds_no_key(tmp_path: Path, keystore: KeyStore) -> None:
    """The main database file copied before erasure: afterwards nothing in the copy opens,
    and the key store file no longer holds the key's bytes."""
    vault = Vault(keystore)
    main = tmp_path / "main.db"
    eng = sa.create_engine(f"sqlite:///{main}")
    _META.create_all(eng)
    _insert(eng, vault, "a", "ann@example.com", "cus_a")
    eng.dispose()
    backup = tmp_path / "backup.db"
    shutil.copy(main, backup)
    (key_id,) = [k.id for k in keystore.keys("cus_a")]
    wrapped_before = _wrapped(tmp_path / "keys.db", key_id)
    vault.forget("cus_a")
    fresh = Vault(KeyStore(f"sqlite:///{tmp_path / 'keys.db'}", LocalKeyProvider(os.urandom(32))))
    with sqlite3.connect(backup) as conn:
        (blob,) = conn.execute("SELECT email FROM vault_people WHERE id = 'a'").fetchone()
    for v in (vault, fresh):
        with pytest.raises(PiiDecryptError):
            v.decrypt(blob, table="vault_people", column="email", row_id="a")
    assert key_id.encode() not in (tmp_path / "keys.db").read_bytes()
    assert wrapped_before not in (tmp_path / "keys.db").read_bytes()


def _wrapped(path: Path, key_id: str) -> bytes:
    with sqlite3.connect(path) as conn:
        (wrapped,) = conn.execute(
            "SELECT wrapped FROM data_keys WHERE id = ?", (key_id,)
        ).fetchone()
    return bytes(wrapped)


def test_rotation_adds_a_primary_and_old_ciphertexts_still_open(
    engine: sa.Engine, vault: Vault
) -> None:
    _insert(engine, vault, "old", "old@example.com", None)
    old_key = _sealed(engine, "old").key_id
    new_key = vault.keys.rotate(SYSTEM)
    _insert(engine, vault, "new", "new@example.com", None)
    assert _sealed(engine, "new").key_id == new_key != old_key
    assert _sealed(engine, "old").open(vault, "old").expose() == "old@example.com"
    primaries = [k for k in vault.keys.keys(SYSTEM) if k.is_primary]
    assert [k.id for k in primaries] == [new_key]


def test_two_stores_racing_for_an_owners_first_key_agree(tmp_path: Path) -> None:
    provider = LocalKeyProvider(os.urandom(32))
    url = f"sqlite:///{tmp_path / 'k.db'}"
    a, b = KeyStore(url, provider), KeyStore(url, provider)
    try:
        assert a.primary("cus_x")[0] == b.primary("cus_x")[0]
        assert len(a.keys("cus_x")) == 1
    finally:
        a.close()
        b.close()


def test_a_key_destroyed_by_another_process_stops_opening_within_the_cache_time(
    tmp_path: Path,
) -> None:
    # Each process keeps unwrapped keys (and their ciphers) for ``cache_seconds``; an
    # erasure made elsewhere must take effect here once that has passed, not later.
    provider = LocalKeyProvider(os.urandom(32))
    url = f"sqlite:///{tmp_path / 'k.db'}"
    here, elsewhere = KeyStore(url, provider, cache_seconds=0.3), KeyStore(url, provider)
    try:
        vault = Vault(here)
        blob = vault.encrypt("ann@example.com", table="t", column="c", row_id="1", owner="c_1")
        assert vault.decrypt(blob, table="t", column="c", row_id="1") == "ann@example.com"
        elsewhere.destroy("c_1")
        time.sleep(0.4)
        with pytest.raises(KeyDestroyed):
            vault.decrypt(blob, table="t", column="c", row_id="1")
        # Retiring a key in this process drops its cipher at once.
        system = vault.encrypt("s@example.com", table="t", column="c", row_id="2")
        old = key_id_of(system)
        assert old is not None
        here.rotate(SYSTEM)
        here.retire(old)
        with pytest.raises(KeyDestroyed):
            vault.decrypt(system, table="t", column="c", row_id="2")
    finally:
        here.close()
        elsewhere.close()


def test_keys_do_not_unwrap_under_another_kek_or_another_id(tmp_path: Path) -> None:
    kek = os.urandom(32)
    store = KeyStore(f"sqlite:///{tmp_path / 'k.db'}", LocalKeyProvider(kek))
    key_id, _ = store.primary("cus_1")
    store.close()
    other = KeyStore(f"sqlite:///{tmp_path / 'k.db'}", LocalKeyProvider(os.urandom(32)))
    with pytest.raises(KeyUnwrapError):
        other.dek(key_id)
    other.close()
    wrapped = _wrapped(tmp_path / "k.db", key_id)
    with pytest.raises(KeyUnwrapError):
        LocalKeyProvider(kek).unwrap(wrapped, context="dk_someone_else")
    assert repr(LocalKeyProvider(kek)).startswith("LocalKeyProvider(kek_id='local-")


def test_version_1_values_still_open(vault: Vault, keystore: KeyStore) -> None:
    root = os.urandom(32)
    old = PiiCipher.from_root(root).encrypt("x@example.com", table="t", column="c", row_id="1")
    with_legacy = Vault(keystore, legacy=PiiCipher.from_root(root))
    assert key_id_of(old) is None
    assert with_legacy.decrypt(old, table="t", column="c", row_id="1") == "x@example.com"
    with pytest.raises(PiiDecryptError):
        vault.decrypt(old, table="t", column="c", row_id="1")


def test_a_hundred_thousand_encryptions_repeat_no_nonce(vault: Vault) -> None:
    seen: set[bytes] = set()
    for i in range(100_000):
        blob = vault.encrypt("x", table="t", column="c", row_id=str(i))
        n = blob[1]
        seen.add(blob[2 + n : 2 + n + 12])
    assert len(seen) == 100_000


def test_the_blind_index_finds_equal_emails_and_needs_its_key() -> None:
    key = os.urandom(32)
    index = BlindIndex(key)
    assert index.email(" Jane@Example.COM ") == index.email("jane@example.com")
    assert index.email("jane@example.com") != index.email("jane+shop@example.com")
    assert BlindIndex(os.urandom(32)).email("jane@example.com") != index.email("jane@example.com")
    assert (
        normalize_email("\uff2a\uff21\uff2e\uff25@example.com") == "jane@example.com"
    )  # NFKC, casefold
    assert len(index.email("a@b.c")) == 64 and "jane" not in repr(index)
    with pytest.raises(ValueError):
        BlindIndex(b"short")


@pytest.mark.anyio
async def test_the_service_encrypts_through_the_vault_and_keeps_keys_elsewhere(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    created = await api.post("/v1/checkouts", json=checkout_body())
    assert created.status_code == 201
    with ctx.db.engine.connect() as conn:
        blob = conn.execute(sa.text("SELECT email_enc FROM checkouts")).scalar_one()
        tables = sa.inspect(conn).get_table_names()
    assert key_id_of(bytes(blob)) == ctx.cipher.keys.primary(SYSTEM)[0]
    assert "data_keys" not in tables  # the key store is another database
    assert ctx.settings.keystore_url != ctx.settings.database_url
