"""Reading Stripe's form-encoded request bodies.

Stripe's v1 API takes `application/x-www-form-urlencoded` with nested keys
(`card[number]`, `metadata[order]`); the SDK sends exactly that, so the
emulator parses it the same way instead of using JSON or Starlette's form
parser (which knows nothing of the bracket syntax and needs python-multipart).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TypeAlias
from urllib.parse import parse_qsl

ParamValue: TypeAlias = "str | dict[str, ParamValue]"
Params: TypeAlias = dict[str, ParamValue]
JsonObject: TypeAlias = dict[str, object]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SUBKEY = re.compile(r"\[([^\[\]]*)\]")
_MAX_FIELDS = 500
# Stripe's documented metadata limits.
_METADATA_KEYS = 50
_METADATA_KEY_CHARS = 40
_METADATA_VALUE_CHARS = 500


class FormError(ValueError):
    """A body that is not a well-formed Stripe form; mapped to a 400 at the edge."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def parse_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("Request body is not valid UTF-8.") from None
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        raise FormError(f"Too many parameters (at most {_MAX_FIELDS}).") from None


def nest(pairs: list[tuple[str, str]]) -> Params:
    """Turn `[("card[number]", "4…")]` into `{"card": {"number": "4…"}}`."""
    root: Params = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise FormError(f"Invalid parameter name: {key}")
        path = [match.group(1), *_SUBKEY.findall(match.group(2))]
        node = root
        for depth, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise FormError("Invalid hash", _param_name(path[: depth + 1]))
            node = child
        leaf = path[-1]
        if leaf == "":  # `expand[]=a&expand[]=b`: append in order
            leaf = str(len(node))
        if isinstance(node.get(leaf), dict):
            raise FormError("Invalid hash", _param_name(path))
        node[leaf] = value
    return root


def _param_name(path: list[str]) -> str:
    return path[0] + "".join(f"[{part}]" for part in path[1:])


class Form:
    """Typed access to one level of a request's params, naming errors as Stripe does."""

    def __init__(self, params: Params, allowed: Collection[str], prefix: str = "") -> None:
        self._params = params
        self._prefix = prefix
        for name in params:
            if name not in allowed:
                raise FormError(
                    f"Received unknown parameter: {self.param(name)}",
                    self.param(name),
                    "parameter_unknown",
                )

    def param(self, name: str) -> str:
        return f"{self._prefix}[{name}]" if self._prefix else name

    def string(self, name: str) -> str | None:
        value = self._params.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise FormError(f"Invalid string: {self.param(name)}", self.param(name))
        return value

    def required_string(self, name: str) -> str:
        value = self.string(name)
        if value is None or value == "":
            raise MissingParam(self.param(name))
        return value

    def integer(self, name: str, *, minimum: int) -> int | None:
        raw = self.string(name)
        if raw is None:
            return None
        if not re.fullmatch(r"-?[0-9]{1,18}", raw):
            raise FormError(
                f"Invalid integer: {raw}", self.param(name), "parameter_invalid_integer"
            )
        value = int(raw)
        if value < minimum:
            raise FormError(
                f"This value must be greater than or equal to {minimum}.",
                self.param(name),
                "parameter_invalid_integer",
            )
        return value

    def boolean(self, name: str) -> bool | None:
        raw = self.string(name)
        if raw is None:
            return None
        if raw not in ("true", "false"):
            raise FormError(f"Invalid boolean: {raw}", self.param(name))
        return raw == "true"

    def array(self, name: str) -> list[str] | None:
        """`name[0]=a&name[1]=b` (what the SDK sends for lists) as `["a", "b"]`."""
        value = self._params.get(name)
        if value is None:
            return None
        if not isinstance(value, dict) or not all(key.isdigit() for key in value):
            raise FormError("Invalid array", self.param(name))
        items: list[str] = []
        for key in sorted(value, key=int):
            item = value[key]
            if not isinstance(item, str):
                raise FormError("Invalid array", self.param(name))
            items.append(item)
        return items

    def nested(self, name: str, allowed: Collection[str]) -> Form | None:
        value = self._params.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise FormError("Invalid object", self.param(name))
        return Form(value, allowed, self.param(name))

    def metadata(self) -> dict[str, str]:
        value = self._params.get("metadata")
        if value is None or value == "":  # Stripe reads `metadata=` as "no metadata"
            return {}
        if not isinstance(value, dict):
            raise FormError("Invalid object", "metadata")
        if len(value) > _METADATA_KEYS:
            raise FormError(f"Metadata can have at most {_METADATA_KEYS} keys.", "metadata")
        result: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(item, str):
                raise FormError("Invalid string", f"metadata[{key}]")
            if len(key) > _METADATA_KEY_CHARS or len(item) > _METADATA_VALUE_CHARS:
                raise FormError(
                    f"Metadata keys can be up to {_METADATA_KEY_CHARS} characters and values "
                    f"up to {_METADATA_VALUE_CHARS} characters.",
                    f"metadata[{key}]",
                )
            result[key] = item
        return result


class MissingParam(FormError):
    def __init__(self, param: str) -> None:
        super().__init__(f"Missing required param: {param}.", param, "parameter_missing")
