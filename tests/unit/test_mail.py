"""Account emails: the dev sender writes a file only its owner can read; neither sender
logs a token or an address in the clear."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from customers.mail import DevFileSender, LogSender, render
from customers.masking import Personal
from customers.outbox import OutgoingEmail

TOKEN = "evf_" + "T" * 43


def _email(kind: str = "verify_email") -> OutgoingEmail:
    data = {"token": TOKEN} if kind == "verify_email" else {}
    return OutgoingEmail("eml_1", kind, Personal.email("jane@example.com"), data)


def test_outgoing_email_repr_shows_no_token_or_address() -> None:
    text = repr(_email())
    assert TOKEN not in text and "jane@" not in text and "j***@example.com" in text


def test_dev_sender_writes_the_email_for_its_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    DevFileSender(tmp_path / "dev-mail").send(_email())
    [path] = list((tmp_path / "dev-mail").iterdir())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = json.loads(path.read_text())
    assert content["token"] == TOKEN and TOKEN in content["body"]
    assert content["to"] == "jane@example.com"
    logged = caplog.text + repr([r.__dict__ for r in caplog.records])
    assert TOKEN not in logged and "jane@" not in logged and "j***@example.com" in logged


def test_log_sender_logs_the_fact_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    LogSender().send(_email())
    logged = caplog.text + repr([r.__dict__ for r in caplog.records])
    assert TOKEN not in logged and "jane@" not in logged
    assert any(getattr(r, "kind", None) == "verify_email" for r in caplog.records)


def test_a_registration_attempt_mail_carries_no_link() -> None:
    subject, body = render(_email("registration_attempt"))
    assert "tried" in subject and "evf_" not in body
    with pytest.raises(ValueError, match="unknown email kind"):
        render(OutgoingEmail("eml_2", "other", Personal.email("a@b.co"), {}))
