"""Draining the email outbox (``customers/outbox.py``) through a sender, in the worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import anyio.to_thread

from checkout.services.uow import UnitOfWork
from customers.mail import MailSender
from customers.outbox import EmailOutbox, OutgoingEmail
from customers.vault import Vault

log = logging.getLogger("checkout.mail")


def _now() -> datetime:
    return datetime.now(UTC)


class MailDispatch:
    def __init__(
        self,
        uow: UnitOfWork,
        vault: Vault,
        sender: MailSender,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._uow = uow
        self._outbox = EmailOutbox(vault)
        self.sender = sender
        self._clock = clock

    def __repr__(self) -> str:
        return f"MailDispatch({self.sender!r})"

    async def run_once(self) -> int:
        """Send what is due; how many went out."""

        def claim() -> list[OutgoingEmail]:
            with self._uow.write() as conn:
                return self._outbox.claim(conn, now=self._clock())

        sent = 0
        for email in await self._uow.run(claim):
            try:
                # A real transport blocks on the network: off the event loop.
                await anyio.to_thread.run_sync(self.sender.send, email)
            except Exception as exc:
                # Left claimed: it is tried again when the lease runs out.
                log.error(
                    "email not sent",
                    extra={"email_id": email.id, "error_type": type(exc).__name__},
                )
                continue

            def done(email_id: str = email.id) -> None:
                with self._uow.write() as conn:
                    self._outbox.sent(conn, email_id, now=self._clock())

            await self._uow.run(done)
            sent += 1
        return sent
