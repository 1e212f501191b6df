"""Sending account emails: the templates, and the senders the outbox hands them to.

No real mail transport ships yet. ``LogSender`` (production, until one is configured)
records that an email would have gone out: its kind and masked address, never its
content, since a verification token in a log is a credential in a log. ``DevFileSender``
(dev) also writes the whole email as a file in the data dir, readable only by its owner,
so a developer can follow the link; the log line names the file, not the token.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Protocol

from customers.outbox import OutgoingEmail

log = logging.getLogger("customers.mail")

VERIFY_EMAIL = "verify_email"
REGISTRATION_ATTEMPT = "registration_attempt"


def render(email: OutgoingEmail) -> tuple[str, str]:
    """Subject and plain-text body."""
    if email.kind == VERIFY_EMAIL:
        return (
            "Confirm your email address",
            "Confirm this address to see your orders in your account:\n"
            "POST /v1/customers/verify-email with this token (valid 48 hours):\n\n"
            f"{email.data['token']}\n",
        )
    if email.kind == REGISTRATION_ATTEMPT:
        return (
            "Someone tried to register with your email",
            "Someone tried to create an account with this email address, which already has "
            "one. If it was you, sign in instead. If not, you need do nothing: no account "
            "was created and your password is unchanged.\n",
        )
    raise ValueError(f"unknown email kind {email.kind!r}")


class MailSender(Protocol):
    def send(self, email: OutgoingEmail) -> None: ...


class LogSender:
    def __repr__(self) -> str:
        return "LogSender()"

    def send(self, email: OutgoingEmail) -> None:
        render(email)  # an unknown kind fails here, as it would with a real transport
        log.info(
            "email not delivered: no mail transport configured",
            extra={"email_id": email.id, "kind": email.kind, "to": email.to.masked},
        )


class DevFileSender:
    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def __repr__(self) -> str:
        return f"DevFileSender({str(self._dir)!r})"

    def send(self, email: OutgoingEmail) -> None:
        subject, body = render(email)
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._dir / f"{email.id}.json"
        content = {"to": email.to.expose(), "kind": email.kind, "subject": subject, "body": body}
        content.update(email.data)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(content, f, indent=2)
        log.info(
            "dev email written",
            extra={
                "email_id": email.id,
                "kind": email.kind,
                "to": email.to.masked,
                "file": path.name,
            },
        )
