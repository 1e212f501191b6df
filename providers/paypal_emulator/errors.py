"""Errors the emulator answers with, in PayPal's REST error shape.

    {"name": "UNPROCESSABLE_ENTITY", "message": "...", "debug_id": "...",
     "details": [{"field"?, "value"?, "location"?, "issue", "description"}],
     "links": [{"href": ".../#error-ISSUE", "rel": "information_link", "method": "GET"}]}

paypalrestsdk picks its exception from the HTTP status alone (400 is special:
`Api.request` returns `{"error": body}` instead of raising), so the status is
the contract with the SDK and `details[].issue` the contract with adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JsonObject = dict[str, Any]

_MESSAGES = {
    "INVALID_REQUEST": "Request is not well-formed, syntactically incorrect, or violates schema.",
    "AUTHENTICATION_FAILURE": (
        "Authentication failed due to invalid authentication credentials or a missing "
        "Authorization header."
    ),
    "RESOURCE_NOT_FOUND": "The specified resource does not exist.",
    "METHOD_NOT_SUPPORTED": "The server does not implement the requested HTTP method.",
    "UNPROCESSABLE_ENTITY": (
        "The requested action could not be performed, semantically incorrect, or failed "
        "business validation."
    ),
    "INTERNAL_SERVER_ERROR": "An internal server error has occurred.",
    "SERVICE_UNAVAILABLE": "Service Unavailable.",
    "RATE_LIMIT_REACHED": "Too many requests. Blocked due to rate limiting.",
}
_STATUS_NAMES = {
    429: "RATE_LIMIT_REACHED",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


@dataclass(frozen=True, slots=True)
class Issue:
    issue: str
    description: str
    field: str | None = None
    value: str | None = None
    location: str | None = None

    def wire(self) -> JsonObject:
        body: JsonObject = {}
        if self.field is not None:
            body["field"] = self.field
        if self.value is not None:
            body["value"] = self.value
        if self.location is not None:
            body["location"] = self.location
        body["issue"] = self.issue
        body["description"] = self.description
        return body


class ApiError(Exception):
    """An error answer: HTTP status, PayPal's error `name` and its issues."""

    def __init__(self, status: int, name: str, *issues: Issue) -> None:
        super().__init__(f"{status} {name}: {', '.join(i.issue for i in issues)}")
        self.status = status
        self.name = name
        self.issues = issues

    def body(self, debug_id: str, doc_base: str) -> JsonObject:
        body: JsonObject = {"name": self.name, "message": _MESSAGES.get(self.name, self.name)}
        body["debug_id"] = debug_id
        if self.issues:
            body["details"] = [issue.wire() for issue in self.issues]
        if self.status == 401:
            # PayPal's authentication failures point at the overview, not an API's errors.
            href = "https://developer.paypal.com/docs/api/overview/#error"
        else:
            href = f"{doc_base}#error-{self.issues[0].issue if self.issues else self.name}"
        body["links"] = [{"href": href, "rel": "information_link", "method": "GET"}]
        return body


def invalid_request(
    issue: str, description: str, *, field: str | None = None, value: str | None = None
) -> ApiError:
    location = "body" if field is not None else None
    return ApiError(400, "INVALID_REQUEST", Issue(issue, description, field, value, location))


def unprocessable(
    issue: str, description: str, *, field: str | None = None, value: str | None = None
) -> ApiError:
    location = "body" if field is not None else None
    return ApiError(422, "UNPROCESSABLE_ENTITY", Issue(issue, description, field, value, location))


def not_found(field: str, value: str) -> ApiError:
    return ApiError(
        404,
        "RESOURCE_NOT_FOUND",
        Issue(
            "INVALID_RESOURCE_ID",
            "Specified resource ID does not exist. Please check the resource ID and try again.",
            field,
            value,
            "path",
        ),
    )


def unknown_route() -> ApiError:
    return ApiError(404, "RESOURCE_NOT_FOUND")


def method_not_supported() -> ApiError:
    return ApiError(405, "METHOD_NOT_SUPPORTED")


def authentication_failure() -> ApiError:
    return ApiError(401, "AUTHENTICATION_FAILURE")


def for_status(status: int) -> ApiError:
    """The body of an injected fault (and of any unexpected server error)."""
    return ApiError(status, _STATUS_NAMES.get(status, "INTERNAL_SERVER_ERROR"))
