"""Customer accounts: register, sign in and out, the profile, email verification.

Uses the building blocks of ``customers/`` (passwords, policy, sessions, throttle, the
customers table, verification tokens, the email outbox) in this service's units of work;
the claim of guest orders touches checkout tables, which is why this lives here and not in
``customers/``. argon2 runs outside any transaction (``PasswordWork``), so no database
connection or SQLite write lock is held for its 120 ms.

Nothing here tells a caller whether an email has an account: sign-in answers a wrong
password and an unknown email alike after the same work, counts failures for unknown
emails too, and registering a taken email answers like a new registration (the owner of
the address is told by email instead; see :meth:`AccountService.register`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from checkout.domain.ids import new_id
from checkout.services.errors import (
    InvalidInput,
    NotFoundError,
    NotSignedIn,
    TooManyAttempts,
)
from checkout.services.password_work import PasswordWork
from checkout.services.uow import UnitOfWork
from checkout.store.claims import claim_guest_rows
from checkout.store.personal import ContactCodec
from customers import verification
from customers.accounts import Customer, Customers, Profile
from customers.blind_index import BlindIndex
from customers.mail import REGISTRATION_ATTEMPT, VERIFY_EMAIL
from customers.outbox import EmailOutbox
from customers.password_policy import PasswordPolicy, PasswordPolicyError
from customers.sessions import IssuedSession, Session, Sessions
from customers.throttle import SignInThrottle
from customers.vault import Vault

Clock = Callable[[], datetime]

_WRONG = "The email or password is wrong."


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Registration:
    email: str
    password: str
    name: str | None = None
    phone: str | None = None

    def __repr__(self) -> str:
        return "Registration(<personal>)"


@dataclass(frozen=True, slots=True)
class Registered:
    """What POST /v1/customers answers; the same shape whether or not the email was new."""

    id: str
    email: str
    name: str | None
    phone: str | None

    def __repr__(self) -> str:
        return f"Registered(id={self.id!r})"


@dataclass(frozen=True, slots=True)
class EmailVerified:
    customer: Customer
    checkouts_claimed: int
    orders_claimed: int


class AccountService:
    def __init__(
        self,
        uow: UnitOfWork,
        vault: Vault,
        blind_index: BlindIndex,
        checkout_codec: ContactCodec,
        order_codec: ContactCodec,
        *,
        throttle: SignInThrottle,
        sessions: Sessions,
        passwords: PasswordWork,
        policy: PasswordPolicy | None = None,
        clock: Clock = _now,
    ) -> None:
        self._uow = uow
        self._vault = vault
        self._index = blind_index
        self._checkout_codec = checkout_codec
        self._order_codec = order_codec
        self._customers = Customers(vault)
        self._outbox = EmailOutbox(vault)
        self.throttle = throttle
        self.sessions = sessions
        self.passwords = passwords
        self._policy = policy or PasswordPolicy()
        self._clock = clock

    def __repr__(self) -> str:
        return "AccountService()"

    def _check_policy(self, password: str, email: str | None, field: str) -> None:
        try:
            self._policy.check(password, email=email)
        except PasswordPolicyError as exc:
            # The message names the rule, never the password.
            raise InvalidInput(str(exc), field=field) from None

    async def register(self, reg: Registration) -> Registered:
        """A new account, or, for an email that has one, no account and an email to its
        owner, answered alike.

        API.md answers a registration with the customer; a 409 for a taken email would
        tell anyone which addresses have accounts. So a taken email gets the same 201
        shape with an id that names nothing, after the same argon2 work, and the
        address's owner is told someone tried. (A caller who then signs in with the
        password they chose learns it did not work; that costs a throttled sign-in and
        mails the owner each time.)"""
        self._check_policy(reg.password, reg.email, "password")
        email_index = self._index.email(reg.email)
        password_hash = await self.passwords.hash(reg.password)
        customer_id = new_id("cus")

        def work() -> None:
            now = self._clock()
            with self._uow.write() as conn:
                existing = self._customers.exists_with_email(conn, email_index)
                if existing is not None:
                    self._outbox.enqueue(
                        conn,
                        customer_id=existing,
                        kind=REGISTRATION_ATTEMPT,
                        to=reg.email,
                        data={},
                        now=now,
                    )
                    return
                self._customers.insert(
                    conn,
                    customer_id=customer_id,
                    email=reg.email,
                    email_index=email_index,
                    password_hash=password_hash,
                    name=reg.name,
                    phone=reg.phone,
                    now=now,
                )
                self._send_verification(conn, customer_id, reg.email, email_index, now)

        try:
            await self._uow.run(work)
        except IntegrityError:
            # Another registration of this email committed between our check and insert;
            # the key made for this id protects nothing.
            self._vault.forget(customer_id)
        return Registered(customer_id, reg.email, reg.name, reg.phone)

    def _send_verification(
        self, conn: Connection, customer_id: str, email: str, email_index: str, now: datetime
    ) -> None:
        token = verification.issue(conn, customer_id, email_index, now=now)
        self._outbox.enqueue(
            conn,
            customer_id=customer_id,
            kind=VERIFY_EMAIL,
            to=email,
            data={"token": token},
            now=now,
        )

    async def sign_in(self, email: str, password: str, *, address: str | None) -> IssuedSession:
        account = self._index.email(email)

        def check() -> tuple[bool, int, str | None, str | None]:
            with self._uow.read() as conn:
                decision = self.throttle.check(conn, account=account, address=address)
                if not decision.allowed:
                    return False, decision.retry_after, None, None
                creds = self._customers.credentials(conn, account)
                if creds is None:
                    return True, 0, None, None
                return True, 0, creds.customer_id, creds.password_hash

        allowed, retry_after, customer_id, stored = await self._uow.run(check)
        if not allowed:
            raise TooManyAttempts(
                "Too many failed sign-ins; try again later.", retry_after=retry_after
            )
        # An unknown email is verified against a dummy hash: the same work, the same time.
        ok = await self.passwords.verify(stored, password)
        rehashed = None
        if ok and stored is not None and self.passwords.needs_rehash(stored):
            rehashed = await self.passwords.hash(password)

        def record() -> IssuedSession | None:
            now = self._clock()
            with self._uow.write() as conn:
                if ok and customer_id is not None and stored is not None:
                    # The password may have changed while argon2 ran: only the hash that
                    # was verified may let this sign-in through.
                    if rehashed is not None:
                        current = self._customers.set_password_hash(
                            conn, customer_id, rehashed, old=stored, now=now
                        )
                    else:
                        current = self._customers.password_hash(conn, customer_id) == stored
                    if current:
                        self.throttle.succeeded(conn, account=account)
                        return self.sessions.issue(conn, customer_id)
                self.throttle.failed(conn, account=account, address=address)
                return None

        issued = await self._uow.run(record)
        if issued is None:
            raise NotSignedIn(_WRONG)
        return issued

    async def authenticate(self, token: str) -> Session | None:
        """The live session of a customer token, its idle deadline moved on when due."""

        def look() -> Session | None:
            with self._uow.read() as conn:
                return self.sessions.lookup(conn, token)

        session = await self._uow.run(look)
        if session is None or not self.sessions.touch_due(session):
            return session

        def touch() -> Session:
            with self._uow.write() as conn:
                return self.sessions.touch(conn, session)

        return await self._uow.run(touch)

    async def sign_out(self, session: Session) -> None:
        def work() -> None:
            with self._uow.write() as conn:
                self.sessions.revoke(conn, session.id)

        await self._uow.run(work)

    async def me(self, customer_id: str) -> Customer:
        def work() -> Customer:
            with self._uow.read() as conn:
                found = self._customers.get(conn, customer_id)
            if found is None:
                raise NotFoundError("No such customer.")
            return found

        return await self._uow.run(work)

    async def update_me(self, customer_id: str, profile: Profile) -> Customer:
        def work() -> Customer:
            with self._uow.write() as conn:
                self._customers.update_profile(conn, customer_id, profile, now=self._clock())
                found = self._customers.get(conn, customer_id)
            if found is None:
                raise NotFoundError("No such customer.")
            return found

        return await self._uow.run(work)

    async def change_password(self, session: Session, current: str, new: str) -> None:
        """Replace the password and end every other session of the customer."""
        customer_id = session.subject_id

        def read() -> tuple[str | None, Customer | None]:
            with self._uow.read() as conn:
                return (
                    self._customers.password_hash(conn, customer_id),
                    self._customers.get(conn, customer_id),
                )

        stored, customer = await self._uow.run(read)
        if customer is None or not await self.passwords.verify(stored, current):
            raise InvalidInput("The current password is wrong.", field="current_password")
        self._check_policy(new, customer.email.expose(), "new_password")
        new_hash = await self.passwords.hash(new)

        def write() -> bool:
            with self._uow.write() as conn:
                assert stored is not None
                if not self._customers.set_password_hash(
                    conn, customer_id, new_hash, old=stored, now=self._clock()
                ):
                    return False
                self.sessions.revoke_all(conn, customer_id, keep=session.id)
                return True

        if not await self._uow.run(write):
            raise InvalidInput(
                "The password changed meanwhile; try again.", field="current_password"
            )

    async def verify_email(self, token: str) -> EmailVerified:
        """Mark the email verified and make the guest checkouts and orders placed with it
        the customer's, under the customer's key."""

        def work() -> EmailVerified:
            now = self._clock()
            with self._uow.write() as conn:
                used = verification.consume(conn, token, now=now)
                current = (
                    None if used is None else self._customers.email_index_of(conn, used.customer_id)
                )
                if used is None or current != used.email_index:
                    raise _BadToken()
                self._customers.mark_verified(conn, used.customer_id, now=now)
                checkouts, orders = claim_guest_rows(
                    conn,
                    self._checkout_codec,
                    self._order_codec,
                    used.customer_id,
                    used.email_index,
                )
                customer = self._customers.get(conn, used.customer_id)
                assert customer is not None
            return EmailVerified(customer, checkouts, orders)

        try:
            return await self._uow.run(work)
        except _BadToken:
            raise InvalidInput("The token is unknown, used or expired.", field="token") from None

    def purge(self) -> int:
        """Housekeeping: expired sessions, forgotten throttle keys, used or expired
        verification tokens (a batch of each); how many rows went."""
        with self._uow.write() as conn:
            return (
                self.sessions.purge_expired(conn)
                + self.throttle.purge(conn)
                + verification.purge(conn, now=self._clock())
            )


class _BadToken(Exception):
    """Rolls the unit of work back (a consumed token for a changed email stays unused)."""
