"""Staff members: enrolment, sign-in with password and TOTP, per-request authentication,
and an admin's changes to a member's role or standing.

Sign-in follows the customers' (``checkout/services/accounts.py``): throttled per account
and per address, argon2 off the event loop, the same 401 for an unknown email, a wrong
password, a wrong or replayed code, and a deactivated member, each after the same password
work. A member's TOTP time step is recorded in the transaction that issues the session, by
a conditional update, so a code signs in at most once.

Every request reads the member's row with the session: a deactivated member or a changed
role takes effect on the next request even for a session that was somehow left alive.
Deactivating or changing a role also ends the member's sessions in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from checkout.access import totp
from checkout.access.roles import Role
from checkout.domain.ids import new_id
from checkout.services.errors import ConflictError, NotFoundError, NotSignedIn, TooManyAttempts
from checkout.services.password_work import PasswordWork
from checkout.services.uow import UnitOfWork
from checkout.store import audit
from checkout.store.staff import StaffCredentials, StaffMember, StaffStore
from customers.blind_index import BlindIndex
from customers.password_policy import PasswordPolicy
from customers.sessions import IssuedSession, Session, Sessions
from customers.throttle import SignInThrottle
from customers.vault import Vault

Clock = Callable[[], datetime]

_WRONG = "The email, password or code is wrong."


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A new member and what they sign in with: shown once, never stored in the clear."""

    member: StaffMember
    password: str = field(repr=False)
    otpauth_uri: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class StaffSignedIn:
    issued: IssuedSession
    role: Role


@dataclass(frozen=True, slots=True)
class StaffPrincipal:
    """Who a staff request is from, with the role their row holds right now."""

    member_id: str
    role: Role
    session: Session


def initial_password(policy: PasswordPolicy, email: str) -> str:
    """24 URL-safe characters (144 random bits) the policy accepts."""
    while True:
        candidate = secrets.token_urlsafe(18)
        if policy.violation(candidate, email=email) is None:
            return candidate


class StaffService:
    def __init__(
        self,
        uow: UnitOfWork,
        vault: Vault,
        blind_index: BlindIndex,
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
        self._store = StaffStore(vault)
        self.throttle = throttle
        self.sessions = sessions
        self.passwords = passwords
        self._policy = policy or PasswordPolicy()
        self._clock = clock

    def __repr__(self) -> str:
        return "StaffService()"

    async def create(self, email: str, role: Role, actor: audit.Actor) -> Enrolment:
        """A new active member with a random password and a TOTP key; 409 for an email
        that already has a member."""
        password = initial_password(self._policy, email)
        password_hash = await self.passwords.hash(password)
        key = totp.TotpKey(totp.new_secret())
        member_id = new_id("stf")
        email_index = self._index.email(email)

        def work() -> StaffMember:
            now = self._clock()
            with self._uow.write() as conn:
                self._store.insert(
                    conn,
                    member_id=member_id,
                    email=email,
                    email_index=email_index,
                    role=role,
                    password_hash=password_hash,
                    totp_secret=totp.encode_secret(key.secret),
                    now=now,
                )
                audit.record(
                    conn,
                    actor,
                    audit.AuditEvent("staff.created", "staff_member", member_id, {"role": role}),
                )
                member = self._store.get(conn, member_id)
            assert member is not None
            return member

        try:
            member = await self._uow.run(work)
        except IntegrityError:
            self._vault.forget(member_id)
            raise ConflictError("A staff member with this email exists.") from None
        return Enrolment(member, password, key.provisioning_uri(email))

    async def sign_in(
        self,
        email: str,
        password: str,
        code: str,
        *,
        address: str | None,
        request_id: str | None = None,
    ) -> StaffSignedIn:
        account = self._index.email(email)

        def check() -> tuple[int, StaffCredentials | None]:
            with self._uow.read() as conn:
                decision = self.throttle.check(conn, account=account, address=address)
                if not decision.allowed:
                    return decision.retry_after, None
                return 0, self._store.credentials(conn, account)

        retry_after, creds = await self._uow.run(check)
        if retry_after:
            raise TooManyAttempts(
                "Too many failed sign-ins; try again later.", retry_after=retry_after
            )
        stored = creds.password_hash if creds is not None and creds.active else None
        # An unknown email or a deactivated member costs the same argon2 work.
        ok = await self.passwords.verify(stored, password)
        step = None
        if ok and creds is not None:
            step = creds.totp.matching_step(code, self._clock(), after=creds.totp_last_step)
        rehashed = None
        if step is not None and stored is not None and self.passwords.needs_rehash(stored):
            rehashed = await self.passwords.hash(password)

        def record() -> StaffSignedIn | None:
            now = self._clock()
            with self._uow.write() as conn:
                if step is not None and creds is not None and stored is not None:
                    member_id = creds.member_id
                    # The password may have changed while argon2 ran, and another sign-in
                    # may have used this code meanwhile: both are checked by the update.
                    if rehashed is not None:
                        current = self._store.set_password_hash(
                            conn, member_id, rehashed, old=stored, now=now
                        )
                    else:
                        current = self._store.password_hash(conn, member_id) == stored
                    standing = self._store.standing(conn, member_id)
                    if (
                        current
                        and standing is not None
                        and standing.active
                        and self._store.use_totp_step(conn, member_id, step)
                    ):
                        self.throttle.succeeded(conn, account=account)
                        issued = self.sessions.issue(conn, member_id)
                        audit.record(
                            conn,
                            audit.Actor("staff", member_id, request_id),
                            audit.AuditEvent(
                                "staff.signed_in",
                                "staff_member",
                                member_id,
                                {"session": issued.session.id},
                            ),
                        )
                        return StaffSignedIn(issued, standing.role)
                self.throttle.failed(conn, account=account, address=address)
                return None

        signed_in = await self._uow.run(record)
        if signed_in is None:
            raise NotSignedIn(_WRONG)
        return signed_in

    async def authenticate(self, token: str) -> StaffPrincipal | None:
        """The member behind a live staff token, with their current role; None for a
        dead token or a member who is no longer active."""

        def look() -> StaffPrincipal | None:
            with self._uow.read() as conn:
                session = self.sessions.lookup(conn, token)
                if session is None:
                    return None
                standing = self._store.standing(conn, session.subject_id)
            if standing is None or not standing.active:
                return None
            return StaffPrincipal(standing.member_id, standing.role, session)

        principal = await self._uow.run(look)
        if principal is None or not self.sessions.touch_due(principal.session):
            return principal

        def touch() -> StaffPrincipal:
            with self._uow.write() as conn:
                session = self.sessions.touch(conn, principal.session)
            return StaffPrincipal(principal.member_id, principal.role, session)

        return await self._uow.run(touch)

    async def sign_out(self, principal: StaffPrincipal) -> None:
        def work() -> None:
            with self._uow.write() as conn:
                self.sessions.revoke(conn, principal.session.id)

        await self._uow.run(work)

    def purge(self) -> int:
        """Housekeeping: a batch of expired staff sessions (the throttle's rows are shared
        with customers' and purged with theirs); how many went."""
        with self._uow.write() as conn:
            return self.sessions.purge_expired(conn)

    async def page(
        self, *, limit: int, starting_after: str | None
    ) -> tuple[list[StaffMember], bool]:
        def work() -> tuple[list[StaffMember], bool]:
            with self._uow.read() as conn:
                return self._store.page(conn, limit=limit, starting_after=starting_after)

        return await self._uow.run(work)

    async def update(
        self,
        member_id: str,
        *,
        role: Role | None,
        active: bool | None,
        actor: audit.Actor,
    ) -> StaffMember:
        """Change a member's role or standing; their sessions end in the same transaction.
        Refused (409) when it would leave no active admin."""

        def work() -> StaffMember:
            now = self._clock()
            with self._uow.write() as conn:
                # Admins first, in id order, then the member: every update locks in the
                # same order, so two of them wait for each other instead of deadlocking.
                admins = self._store.lock_active_admins(conn)
                member = self._store.get(conn, member_id, for_update=True)
                if member is None:
                    raise NotFoundError("No such staff member.")
                new_role = role if role is not None and role != member.role else None
                new_active = active if active is not None and active != member.active else None
                if new_role is None and new_active is None:
                    return member
                stays_admin = (new_role or member.role) is Role.ADMIN and (
                    member.active if new_active is None else new_active
                )
                if admins == [member.id] and not stays_admin:
                    raise ConflictError("This is the last active admin; appoint another first.")
                self._store.update(conn, member_id, role=new_role, active=new_active, now=now)
                ended = self.sessions.revoke_all(conn, member_id)
                details: dict[str, object] = {"sessions_ended": ended}
                if new_role is not None:
                    details["role"] = new_role.value
                    details["previous_role"] = member.role.value
                if new_active is not None:
                    details["active"] = new_active
                audit.record(
                    conn,
                    actor,
                    audit.AuditEvent("staff.updated", "staff_member", member_id, details),
                )
                updated = self._store.get(conn, member_id)
            assert updated is not None
            return updated

        return await self._uow.run(work)
