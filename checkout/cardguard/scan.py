"""Where card data can hide in an HTTP request, and looking there.

Each function answers one part of a request (path, query string, headers, body) with the
name of that part when it carries card data, or None. Only the part's name ever leaves
this module: never the value, so nothing downstream can log or echo a card number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

import orjson

from checkout.cardguard.detect import contains_card_data, is_card_field_name, may_hold_pan

# Multipart part names, the only field names a multipart body carries outside its values.
_MULTIPART_NAME: Final = re.compile(r'\bname="([^"\r\n]*)"', re.IGNORECASE)


class _JsonObject(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in order, duplicate keys kept.

    ``json.loads`` would keep only the last of two equal keys; a card number in the first
    one must still be seen.
    """


def path_has_card_data(path: str) -> bool:
    """The path as the server decoded it; a card number there would land in access logs."""
    return contains_card_data(path)


def query_has_card_data(query_string: bytes) -> bool:
    """Parameter names and values after percent- and ``+``-decoding, as the app sees them."""
    if not query_string:
        return False
    return _pairs_have_card_data(_parse_form(query_string.decode("latin-1")))


def headers_have_card_data(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Header names (as field names) and values, raw and percent-decoded."""
    pairs = list(headers)
    values = b"\n".join(value for _, value in pairs)
    if b"%" not in values and not may_hold_pan(values.decode("latin-1")):
        # No value can hold a card (a newline joins no digits into a run), so only the
        # names are left: one check for all the values instead of one each.
        return any(_names_card_field(name) for name, _ in pairs)
    for raw_name, raw_value in pairs:
        if _names_card_field(raw_name):
            return True
        value = raw_value.decode("latin-1")
        if contains_card_data(value):
            return True
        # Cookies and Referer URLs are percent-encoded. Not unquote_plus: outside forms a
        # "+" is literal, and it marks "+49 …" as a phone number rather than a card.
        if "%" in value and contains_card_data(unquote(value, errors="replace")):
            return True
    return False


def _names_card_field(raw_name: bytes) -> bool:
    name = raw_name.decode("latin-1")
    # "X-Card-Number" is the custom-header spelling of a card_number field.
    bare = name[2:] if name.lower().startswith("x-") else name
    return is_card_field_name(bare)


def body_has_card_data(body: bytes, content_type: str) -> bool:
    """The raw text, then its structure: JSON always when it parses, forms by content type.

    The raw scan sees what a log line of the body would show; the parsed scan sees what
    the app would see after decoding (``\\u0034\\u0032…`` escapes, ``%34%32…`` form
    encoding, numbers, key names).
    """
    if not body:
        return False
    text = body.decode("utf-8", errors="replace")
    if contains_card_data(text):
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return _pairs_have_card_data(_parse_form(text))
    if media_type == "multipart/form-data":
        return any(is_card_field_name(m.group(1)) for m in _MULTIPART_NAME.finditer(text))
    if "\\" not in text:
        if not _may_name_card_field(body):
            return False
        keys = _json_keys(text)
        if keys is not None:
            # Without a single escape, every string and number stands in the raw text just
            # as the app will read it, so the raw scan above has seen every value already;
            # what is left is the key names, and duplicate keys share theirs.
            return any(is_card_field_name(key) for key in keys)
    document = _parse_json(text)
    return document is not None and _json_has_card_data(document.value)


# Every card field name, compared as is_card_field_name compares (case, "_- ." and brackets
# dropped), contains one of these; text that, squeezed the same way, holds none of them
# has no card field name anywhere, keys included.
_FIELD_MARKERS: Final = (b"num", b"cv", b"pan", b"track")
_UPPER_TO_LOWER: Final = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz"
)


def _may_name_card_field(body: bytes) -> bool:
    """False only when no key of ``body`` can be a card field name. Four substring
    searches in C (5 µs for a 1.3 KB webhook) instead of parsing and walking every key.
    Only for ASCII: elsewhere case folding can make letters (the Kelvin sign is a "k")."""
    if not body.isascii():
        return True
    squeezed = body.translate(_UPPER_TO_LOWER, b"_- .[]")
    return any(marker in squeezed for marker in _FIELD_MARKERS)


def _json_keys(text: str) -> list[str] | None:
    """Every object key in a JSON document (orjson, C speed), or None if it will not parse
    that way, in which case the full parse below decides."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    keys: list[str] = []
    pending: list[Any] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            keys.extend(node)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return keys


class _Parsed:
    """A parsed JSON document; a wrapper so that a JSON ``null`` is not "did not parse"."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _parse_json(text: str) -> _Parsed | None:
    if not text.strip():
        return None
    try:
        return _Parsed(json.loads(text, object_pairs_hook=_JsonObject))
    except (ValueError, RecursionError):
        # Not JSON (or nested too deep for any JSON parser in this process, the app's own
        # included): the raw-text scan above is all there is to do.
        return None


def _json_has_card_data(document: Any) -> bool:
    # An explicit stack, not recursion: the nesting depth is the client's choice.
    pending: list[Any] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, _JsonObject):
            for key, value in node:
                if is_card_field_name(key) or contains_card_data(key):
                    return True
                pending.append(value)
        elif isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, str):
            if contains_card_data(node):
                return True
        # {"n": 4242424242424242} is a card number sent as a JSON number. Floats are
        # decimals (a fraction is never part of a card number) and are left alone.
        elif isinstance(node, int) and not isinstance(node, bool) and contains_card_data(str(node)):
            return True
    return False


def _parse_form(text: str) -> list[tuple[str, str]]:
    return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")


def _pairs_have_card_data(pairs: Iterable[tuple[str, str]]) -> bool:
    return any(
        is_card_field_name(name) or contains_card_data(name) or contains_card_data(value)
        for name, value in pairs
    )
