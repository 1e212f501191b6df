"""Creating, checking and revoking private-listener API keys."""

from __future__ import annotations

from checkout.access.api_keys import ApiKey, hash_secret, hint_of, looks_like_key, new_secret
from checkout.access.scopes import Scope
from checkout.db.tables import utcnow
from checkout.domain.ids import new_id
from checkout.services.uow import UnitOfWork
from checkout.store import api_keys as store


class ApiKeys:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def create(self, scopes: frozenset[Scope], label: str | None = None) -> tuple[ApiKey, str]:
        """The key and its secret; the secret is not kept and cannot be shown again."""
        secret = new_secret()
        key = ApiKey(
            id=new_id("key"),
            hint=hint_of(secret),
            label=label,
            scopes=scopes,
            created_at=utcnow(),
        )
        with self._uow.write() as conn:
            store.insert(conn, key, hash_secret(secret))
        return key, secret

    async def authenticate(self, secret: str) -> ApiKey | None:
        """The live key this secret belongs to, else None (unknown and revoked alike)."""
        if not looks_like_key(secret):
            return None
        digest = hash_secret(secret)

        def find() -> ApiKey | None:
            with self._uow.read() as conn:
                return store.by_hash(conn, digest)

        key = await self._uow.run(find)
        if key is None or not key.active:
            return None
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at >= store.TOUCH_EVERY:
            await self._uow.run(lambda: self._touch(key.id))
        return key

    def _touch(self, key_id: str) -> None:
        with self._uow.write() as conn:
            store.touch(conn, key_id, utcnow())

    def revoke(self, key_id: str) -> bool:
        with self._uow.write() as conn:
            return store.revoke(conn, key_id)

    def list(self) -> list[ApiKey]:
        with self._uow.read() as conn:
            return store.all_keys(conn)
