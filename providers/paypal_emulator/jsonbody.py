"""Reading PayPal's JSON request bodies, with PayPal's 400 answers for bad ones.

Fields are addressed by JSON pointer (`/purchase_units/0/amount`), which is
how PayPal names them in `details[].field`.
"""

from __future__ import annotations

import json

from providers.paypal_emulator.errors import ApiError, JsonObject, invalid_request

_SYNTAX = "The value of a field does not conform to the expected format."


def parse_object(raw: bytes) -> JsonObject:
    """The body as a JSON object; an empty body is `{}` (PayPal accepts that on actions)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise _malformed() from error
    if not isinstance(value, dict):
        raise _malformed()
    return value


def child(parent: JsonObject, key: str, pointer: str) -> JsonObject | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_request("INVALID_PARAMETER_SYNTAX", _SYNTAX, field=f"{pointer}/{key}")
    return value


def string(parent: JsonObject, key: str, pointer: str, *, max_length: int = 127) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_request("INVALID_PARAMETER_SYNTAX", _SYNTAX, field=f"{pointer}/{key}")
    if not 1 <= len(value) <= max_length:
        raise invalid_request(
            "INVALID_STRING_LENGTH",
            "The value of a field is either too short or too long.",
            field=f"{pointer}/{key}",
        )
    return value


def boolean(parent: JsonObject, key: str, pointer: str) -> bool | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid_request("INVALID_PARAMETER_SYNTAX", _SYNTAX, field=f"{pointer}/{key}")
    return value


def missing(pointer: str) -> ApiError:
    return invalid_request(
        "MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing.", field=pointer
    )


def _malformed() -> ApiError:
    return invalid_request("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.")
