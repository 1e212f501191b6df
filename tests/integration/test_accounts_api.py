"""Customer accounts over the real public app, on each backend: registration, sign-in and
its throttle, sign-out, the profile, personal fields at rest under the customer's key."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from customers.keystore import SYSTEM
from customers.passwords import Argon2Parameters, Passwords
from customers.vault import key_id_of
from tests.integration.helpers import ADDRESS, PASSWORD, count, drain_mail, sign_up

pytestmark = pytest.mark.anyio


def _row(ctx: AppContext, sql: str, **params: Any) -> Any:
    with ctx.db.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).one()


def _error(r: httpx.Response) -> dict[str, Any]:
    err = dict(r.json()["error"])
    err.pop("request_id")
    return err


async def test_registration_answers_the_customer_and_stores_only_ciphertext(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    r = await api.post(
        "/v1/customers",
        json={
            "email": "Ann.Lee@Example.com",
            "password": PASSWORD,
            "name": "Ann Lee",
            "phone": "+1 555 0100",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"].startswith("cus_")
    assert body["email"] == "Ann.Lee@Example.com" and body["name"] == "Ann Lee"
    assert body["phone"] == "+1 555 0100" and "password" not in r.text
    row = _row(
        ctx,
        "SELECT email_enc, name_enc, phone_enc, email_index, password_hash FROM customers "
        "WHERE id = :id",
        id=body["id"],
    )
    customer_key = ctx.cipher.keys.primary(body["id"])[0]
    assert customer_key != ctx.cipher.keys.primary(SYSTEM)[0]
    for raw in (row.email_enc, row.name_enc, row.phone_enc):
        blob = bytes(raw)
        assert key_id_of(blob) == customer_key
        # Whole values: a short fragment like "555" can occur in the hex key id by chance.
        for plain in (b"Ann.Lee@Example.com", b"Ann Lee", b"+1 555 0100"):
            assert plain not in blob
    assert "ann" not in row.email_index.lower() and len(row.email_index) == 64
    assert row.password_hash.startswith("$argon2id$v=19$m=65536,t=2,p=1$")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw", "at least 12"),
        ("password1234", "too common"),
        ("qwertyuiop12", "too common"),
        ("ann.lee-is-my-password", "must not contain the email"),
    ],
)
async def test_weak_passwords_are_422_naming_the_field_not_the_value(
    api: httpx.AsyncClient, ctx: AppContext, password: str, reason: str
) -> None:
    r = await api.post("/v1/customers", json={"email": "ann.lee@example.com", "password": password})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation_error" and reason in err["fields"]["password"]
    assert password not in r.text
    assert count(ctx, "customers") == 0


async def test_a_taken_email_answers_like_a_new_one_and_tells_its_owner(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    first = await api.post("/v1/customers", json={"email": "bo@example.com", "password": PASSWORD})
    again = await api.post(
        "/v1/customers", json={"email": "BO@example.com", "password": PASSWORD + "x"}
    )
    assert first.status_code == again.status_code == 201
    assert set(first.json()) == set(again.json())
    assert again.json()["id"].startswith("cus_") and again.json()["id"] != first.json()["id"]
    assert count(ctx, "customers") == 1
    # The second password opened nothing; the first account is untouched.
    denied = await api.post(
        "/v1/sessions", json={"email": "bo@example.com", "password": PASSWORD + "x"}
    )
    assert denied.status_code == 401
    sent = await drain_mail(ctx)
    kinds = {(m.kind, m.to.expose().lower()) for m in sent}
    assert kinds == {("verify_email", "bo@example.com"), ("registration_attempt", "bo@example.com")}
    attempt = next(m for m in sent if m.kind == "registration_attempt")
    assert "token" not in attempt.data and "bo@" not in repr(attempt)


async def test_sign_in_issues_a_token_and_me_shows_the_customer(api: httpx.AsyncClient) -> None:
    customer_id, auth = await sign_up(api, "cy@example.com")
    me = await api.get("/v1/me", headers=auth)
    assert me.status_code == 200
    assert me.json() == {
        "id": customer_id,
        "object": "customer",
        "email": "cy@example.com",
        "email_verified": False,
        "name": None,
        "phone": None,
        "addresses": [],
        "created": me.json()["created"],
    }
    assert (await api.get("/v1/me")).status_code == 401
    dead = await api.get("/v1/me", headers={"Authorization": "Bearer sess_nope"})
    assert dead.status_code == 401 and dead.headers["www-authenticate"] == "Bearer"


async def test_wrong_password_and_unknown_email_answer_alike(api: httpx.AsyncClient) -> None:
    await sign_up(api, "dee@example.com")
    wrong = await api.post("/v1/sessions", json={"email": "dee@example.com", "password": "x" * 14})
    unknown = await api.post(
        "/v1/sessions", json={"email": "nobody@example.com", "password": "x" * 14}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert _error(wrong) == _error(unknown)
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")


@pytest.mark.parametrize("email", ["eve@example.com", "ghost@example.com"])
async def test_repeated_failures_are_429_with_retry_after_known_or_not(
    api: httpx.AsyncClient, email: str
) -> None:
    await sign_up(api, "eve@example.com")
    for _ in range(5):
        r = await api.post("/v1/sessions", json={"email": email, "password": "wrong" * 3})
        assert r.status_code == 401
    locked = await api.post("/v1/sessions", json={"email": email, "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    if email != "eve@example.com":
        # Another account from the same address is not locked by the unknown email's.
        ok = await api.post("/v1/sessions", json={"email": "eve@example.com", "password": PASSWORD})
        assert ok.status_code == 201


async def test_an_address_is_throttled_across_accounts(ctx: AppContext) -> None:
    from checkout.web.factory import create_public_app

    app = create_public_app(ctx)
    attacker = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=attacker, base_url="http://t") as api:
        for i in range(20):
            r = await api.post(
                "/v1/sessions", json={"email": f"u{i}@example.com", "password": "wrong" * 3}
            )
            assert r.status_code == 401
        r = await api.post("/v1/sessions", json={"email": "new@example.com", "password": "w" * 12})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    elsewhere = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://t") as api:
        r = await api.post("/v1/sessions", json={"email": "new@example.com", "password": "w" * 12})
        assert r.status_code == 401


async def test_sign_out_kills_the_token_at_once(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api, "fay@example.com")
    second = await api.post("/v1/sessions", json={"email": "fay@example.com", "password": PASSWORD})
    other = {"Authorization": f"Bearer {second.json()['token']}"}
    assert second.json()["token"] != auth["Authorization"].split()[1]
    assert (await api.delete("/v1/sessions/current", headers=auth)).status_code == 204
    assert (await api.get("/v1/me", headers=auth)).status_code == 401
    assert (await api.delete("/v1/sessions/current", headers=auth)).status_code == 401
    # Only that session ended.
    assert (await api.get("/v1/me", headers=other)).status_code == 200


async def test_password_change_ends_every_other_session(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api, "gus@example.com")
    s2 = await api.post("/v1/sessions", json={"email": "gus@example.com", "password": PASSWORD})
    other = {"Authorization": f"Bearer {s2.json()['token']}"}
    wrong = await api.post(
        "/v1/me/password",
        headers=auth,
        json={"current_password": "not it at all", "new_password": "a brand new passphrase"},
    )
    assert wrong.status_code == 422 and "current_password" in wrong.json()["error"]["fields"]
    weak = await api.post(
        "/v1/me/password",
        headers=auth,
        json={"current_password": PASSWORD, "new_password": "password1234"},
    )
    assert weak.status_code == 422 and "new_password" in weak.json()["error"]["fields"]
    ok = await api.post(
        "/v1/me/password",
        headers=auth,
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert ok.status_code == 204
    assert (await api.get("/v1/me", headers=auth)).status_code == 200
    assert (await api.get("/v1/me", headers=other)).status_code == 401
    old = await api.post("/v1/sessions", json={"email": "gus@example.com", "password": PASSWORD})
    assert old.status_code == 401
    new = await api.post(
        "/v1/sessions", json={"email": "gus@example.com", "password": "a brand new passphrase"}
    )
    assert new.status_code == 201


async def test_sign_in_rehashes_a_password_hashed_under_older_parameters(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    customer_id, _ = await sign_up(api, "hal@example.com")
    weaker = Passwords(Argon2Parameters(memory_kib=19456, time_cost=2)).hash(PASSWORD)
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE customers SET password_hash = :h WHERE id = :id"),
            {"h": weaker, "id": customer_id},
        )
    r = await api.post("/v1/sessions", json={"email": "hal@example.com", "password": PASSWORD})
    assert r.status_code == 201
    stored = _row(ctx, "SELECT password_hash FROM customers WHERE id = :id", id=customer_id)[0]
    assert stored != weaker and stored.startswith("$argon2id$v=19$m=65536,t=2,p=1$")
    again = await api.post("/v1/sessions", json={"email": "hal@example.com", "password": PASSWORD})
    assert again.status_code == 201


async def test_patch_me_updates_encrypts_and_clears(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    customer_id, auth = await sign_up(api, "ivy@example.com")
    r = await api.patch(
        "/v1/me",
        headers=auth,
        json={"name": "Ivy Q", "phone": "+44 20 7946 0000", "addresses": [ADDRESS]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Ivy Q" and r.json()["addresses"] == [ADDRESS]
    row = _row(ctx, "SELECT addresses_enc FROM customers WHERE id = :id", id=customer_id)
    blob = bytes(row.addresses_enc)
    assert key_id_of(blob) == ctx.cipher.keys.primary(customer_id)[0] and b"Main" not in blob
    cleared = await api.patch("/v1/me", headers=auth, json={"name": None})
    assert cleared.json()["name"] is None and cleared.json()["phone"] == "+44 20 7946 0000"
    assert cleared.json()["addresses"] == [ADDRESS]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"addresses": [{**ADDRESS, "country": "us"}]}, "addresses[0].country"),
        ({"addresses": [{k: v for k, v in ADDRESS.items() if k != "city"}]}, "addresses[0].city"),
        ({"addresses": [{**ADDRESS, "floor": 3}]}, "addresses[0].floor"),
        ({"phone": "call me"}, "phone"),
        ({"email": "new@example.com"}, "email"),
    ],
)
async def test_patch_me_validates_addresses_per_the_api(
    api: httpx.AsyncClient, patch: dict[str, Any], field: str
) -> None:
    _, auth = await sign_up(api, "jo@example.com")
    r = await api.patch("/v1/me", headers=auth, json=patch)
    assert r.status_code == 422
    assert field in r.json()["error"]["fields"]


async def test_sign_in_times_do_not_say_whether_an_email_has_an_account(
    api: httpx.AsyncClient,
) -> None:
    # Two accounts, four wrong guesses each (under the account lockout), against eight
    # unknown emails; sixteen failures stay under the address's twenty.
    for name in ("kim", "lou"):
        await sign_up(api, f"{name}@example.com")
    wrong: list[float] = []
    unknown: list[float] = []
    for i in range(8):
        for email, bucket in (
            (f"{('kim', 'lou')[i % 2]}@example.com", wrong),
            (f"nobody{i}@example.com", unknown),
        ):
            t0 = time.perf_counter()
            r = await api.post("/v1/sessions", json={"email": email, "password": "wrong" * 3})
            bucket.append(time.perf_counter() - t0)
            assert r.status_code == 401
    ratio = statistics.median(wrong) / statistics.median(unknown)
    assert 0.5 < ratio < 2.0, (wrong, unknown)


async def test_the_worker_sends_queued_emails_and_clears_them(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    from checkout.worker import worker_for

    await sign_up(api, "max@example.com")
    report = await worker_for(ctx).run_once()
    assert report["emails_sent"] == 1 and "account_rows_purged" in report
    row = _row(ctx, "SELECT status, to_enc, data_enc, sent_at FROM email_outbox")
    assert row.status == "sent" and row.to_enc is None and row.data_enc is None
    # In dev the email is a file in the data dir, for the developer to follow.
    [path] = list((ctx.settings.data_dir / "dev-mail").iterdir())
    assert "evf_" in path.read_text()
    assert (await worker_for(ctx).run_once())["emails_sent"] == 0
