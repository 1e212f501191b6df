"""schemathesis against both listeners in process, from the documents they serve.

Stateless: every operation of each listener, with examples valid and invalid by its
schema, as each kind of caller: anonymous, a signed-in customer, a staff member of every
role, an API key holding every scope. Stateful: the document's links (a checkout created,
read and changed with its client secret; a customer registered, signed in and reading
``/v1/me`` with the token). Each answer must be no 5xx, a status the document lists for
the operation, of the documented content type, and a body matching its schema.

Bounded by example counts to a couple of minutes on SQLite; PostgreSQL adds nothing
here that the API tests on it do not already cover, so it runs there only when
``CHECKOUT_SCHEMATHESIS_POSTGRES=1``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response as StResponse
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from checkout.access.roles import Role
from checkout.config import Settings
from checkout.seed import DEMO_PRODUCTS
from tests.attack.inprocess import Listeners, listeners

# Not `negative_data_rejection`: unknown query parameters are ignored by design, and the
# credential it "leaves out" is added back by these tests.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("CHECKOUT_SCHEMATHESIS_EXAMPLES", "15"))
# Ends a session or erases the caller: run last, so the rest see a live credential.
LAST = {
    ("DELETE", "/v1/sessions/current"),
    ("DELETE", "/v1/me"),
    ("DELETE", "/staff/v1/sessions/current"),
}


@pytest.fixture
def both(db_url: str, settings: Settings) -> Iterator[Listeners]:
    if db_url.startswith("postgresql") and os.environ.get("CHECKOUT_SCHEMATHESIS_POSTGRES") != "1":
        pytest.skip("schemathesis runs on SQLite; CHECKOUT_SCHEMATHESIS_POSTGRES=1 adds PostgreSQL")
    with listeners(settings) as b:
        yield b


def _from_catalog(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with checkout lines drawn from the seeded catalog and passwords of
    API.md's length, so that valid examples get past pricing and the password policy and
    the answers to success (and the links from them) are exercised too. Invalid examples
    are still made, from these narrower schemas."""
    schemas = doc["components"]["schemas"]
    line = schemas["LineIn"]["properties"]
    line["sku"] = {"enum": [sku for sku, _, _ in DEMO_PRODUCTS]}
    line["quantity"] = {"type": "integer", "minimum": 1, "maximum": 5}
    for name in ("CheckoutIn", "CheckoutPatchIn"):
        schemas[name]["properties"]["currency"] = {"enum": ["USD", "EUR", "JPY", "KWD"]}
    schemas["CustomerIn"]["properties"]["password"] = {
        "type": "string",
        "minLength": 12,
        "maxLength": 64,
        "pattern": "^[a-zA-Z0-9 ]+$",
    }
    return doc


def _from_catalog_if(listener: str, doc: dict[str, Any]) -> dict[str, Any]:
    return _from_catalog(doc) if listener == "public" else doc


def _fuzz(
    both: Listeners,
    listener: str,
    headers: dict[str, str],
    wanted: Callable[[str], bool],
    examples: int = EXAMPLES,
) -> list[str]:
    """Every operation of ``listener`` whose path ``wanted`` accepts; the failures found."""
    schema = schemathesis.openapi.from_dict(_from_catalog_if(listener, both.document(listener)))
    ops = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    served = both.served[listener]
    ops = [op for op in ops if wanted(op.path) and (op.method.upper(), op.path) in served]
    ops.sort(key=lambda op: (op.method.upper(), op.path) in LAST)
    assert ops, listener
    failures: list[str] = []
    for op in ops:
        strategy = st.one_of(
            op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE)
        )

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Case[Any]) -> None:
            response = both.send(listener, case, headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            run()
        except Exception as exc:  # collected, so one run reports every operation that fails
            failures.append(f"{op.method.upper()} {op.path}: {exc}"[:3000])
    return failures


def test_public_listener_anonymous(both: Listeners) -> None:
    failures = _fuzz(both, "public", {}, lambda path: True)
    assert not failures, "\n\n".join(failures)


def test_public_listener_as_a_customer(both: Listeners) -> None:
    auth = {"Authorization": f"Bearer {both.customer_token('fuzz@example.com')}"}
    failures = _fuzz(both, "public", auth, lambda path: path.startswith("/v1/"))
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("role", list(Role))
def test_staff_routes_as_each_role(both: Listeners, role: Role) -> None:
    auth = {"Authorization": f"Bearer {both.staff_token(role)}"}
    failures = _fuzz(both, "public", auth, lambda path: path.startswith("/staff/v1/"))
    assert not failures, "\n\n".join(failures)


def test_private_listener_anonymous_and_with_every_scope(both: Listeners) -> None:
    failures = _fuzz(both, "private", {}, lambda path: True)
    auth = {"Authorization": f"Bearer {both.api_key()}"}
    failures += _fuzz(both, "private", auth, lambda path: True)
    assert not failures, "\n\n".join(failures)


STATEFUL = [
    "createCheckout",
    "getCheckout",
    "updateCheckout",
    "registerCustomer",
    "signIn",
    "getMe",
]


def test_stateful_links_checkout_and_customer_flows(both: Listeners) -> None:
    schema = schemathesis.openapi.from_dict(_from_catalog(both.document("public"))).include(
        operation_id=STATEFUL
    )
    steps: list[str] = []
    statuses: Counter[str] = Counter()
    codes: Counter[str] = Counter()

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def call(self, case: Case[Any], **kwargs: Any) -> StResponse:
            response = both.send("public", case)
            steps.append(f"{case.operation.method.upper()} {case.operation.path}")
            statuses[steps[-1]] += 1 if response.status_code < 300 else 0
            codes[f"{steps[-1]} {response.status_code}"] += 1
            return response

        def validate_response(
            self, response: StResponse, case: Case[Any], additional_checks: Any = None, **kw: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    Machine.run(
        settings=settings(
            max_examples=40,  # more trips an internal assertion of hypothesis (6.170)
            stateful_step_count=8,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
    # The links were followed: reads and changes of created checkouts, /v1/me after sign-in.
    assert statuses["GET /v1/checkouts/{checkout_id}"], (statuses, codes)
    assert statuses["PATCH /v1/checkouts/{checkout_id}"], (statuses, Counter(steps))
    assert statuses["GET /v1/me"], (statuses, Counter(steps))
