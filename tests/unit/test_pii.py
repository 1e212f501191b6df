from __future__ import annotations

import os
import pickle

import pytest

from customers.masking import Personal, mask_email
from customers.pii import PiiCipher, PiiDecryptError


@pytest.fixture
def cipher() -> PiiCipher:
    return PiiCipher.from_root(os.urandom(32))


def test_round_trip(cipher: PiiCipher) -> None:
    blob = cipher.encrypt("jane@example.com", table="orders", column="email", row_id="ord_1")
    assert b"jane" not in blob
    assert cipher.decrypt(blob, table="orders", column="email", row_id="ord_1") == (
        "jane@example.com"
    )


def test_same_value_encrypts_differently_each_time(cipher: PiiCipher) -> None:
    a = cipher.encrypt("x", table="t", column="c", row_id="1")
    b = cipher.encrypt("x", table="t", column="c", row_id="1")
    assert a != b


@pytest.mark.parametrize(
    ("table", "column", "row_id"),
    [
        ("orders", "email", "ord_2"),
        ("orders", "shipping_address", "ord_1"),
        ("checkouts", "email", "ord_1"),
    ],
)
def test_ciphertext_moved_to_another_row_or_column_does_not_decrypt(
    cipher: PiiCipher, table: str, column: str, row_id: str
) -> None:
    blob = cipher.encrypt("jane@example.com", table="orders", column="email", row_id="ord_1")
    with pytest.raises(PiiDecryptError):
        cipher.decrypt(blob, table=table, column=column, row_id=row_id)


def test_tampered_ciphertext_does_not_decrypt(cipher: PiiCipher) -> None:
    blob = bytearray(cipher.encrypt("jane", table="t", column="c", row_id="1"))
    blob[-1] ^= 1
    with pytest.raises(PiiDecryptError):
        cipher.decrypt(bytes(blob), table="t", column="c", row_id="1")


def test_another_key_cannot_decrypt(cipher: PiiCipher) -> None:
    blob = cipher.encrypt("jane", table="t", column="c", row_id="1")
    with pytest.raises(PiiDecryptError):
        PiiCipher.from_root(os.urandom(32)).decrypt(blob, table="t", column="c", row_id="1")


def test_cipher_repr_shows_no_key(cipher: PiiCipher) -> None:
    assert "hidden" in repr(cipher)


def test_personal_values_are_masked_when_printed() -> None:
    email = Personal.email("jane.doe@example.com")
    assert repr(email) == "Personal('j***@example.com')"
    assert str(email) == "j***@example.com"
    assert f"{email}" == "j***@example.com"
    assert "jane.doe" not in repr([email, {"e": email}])
    assert email.expose() == "jane.doe@example.com"


def test_personal_values_refuse_pickling() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Personal.email("jane@example.com"))


def test_mask_email_keeps_first_letter_and_domain() -> None:
    assert mask_email("jane@example.com") == "j***@example.com"
